import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltCli, buildCli, type CliRun, runCli } from '../support/built-cli.js';
import { type Clients, connect, httpCheck } from '../support/harness.js';
import { ORDERS_POLICY } from '../support/serve-process.js';

/**
 * Hostile policy-file edits against the real `serve` process (a seam sweep; policy-edits.test.ts covers truncation,
 * delete + re-create and half-written files): a YAML alias bomb, bytes that are not UTF-8, a symlink loop in the
 * watched folder. Each is refused with the file (and line), the last good set keeps serving, and the watcher still
 * applies the next good edit. At startup the same alias bomb is a config error with file:line (exit 2), not a stack
 * trace.
 */

/** Nine aliases of nine aliases, six levels deep: the `yaml` library's alias-count guard throws on it. */
const ALIAS_BOMB = (() => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g'].entries()) {
    lines.push(`${name}: &${name} [${Array(9).fill(`*${'abcdef'[i]}`).join(',')}]`);
  }
  return `${lines.join('\n')}\n`;
})();

let cli: BuiltCli;
let dir: string;
let policies: string;
let serve: CliRun;
let clients: Clients;

beforeAll(async () => {
  cli = buildCli('policy-file-seams');
  dir = mkdtempSync(join(tmpdir(), 'policy-seams-'));
  policies = join(dir, 'policies');
  mkdirSync(policies);
  writeFileSync(join(policies, 'orders.yaml'), ORDERS_POLICY);
  writeFileSync(
    join(dir, 'config.yaml'),
    `server: { listen: 127.0.0.1:0 }
admin: { listen: 127.0.0.1:0 }
policy: { paths: [policies], watch: true, reloadDebounceMs: 50, emptyFileGraceMs: 100 }
telemetry: { log: { decisions: none } }
`,
  );
  serve = runCli(cli, ['serve', '--config', join(dir, 'config.yaml')]);
  const [, grpcAddress] = await serve.waitForOutput(/mesh-authz listening: gRPC (127\.0\.0\.1:\d+)/);
  await serve.waitForOutput(/policies: loaded, SERVING\n/);
  clients = connect(grpcAddress!);
}, 60_000);

afterAll(async () => {
  clients?.close();
  serve?.child.kill('SIGTERM');
  await serve?.exit;
  cli?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** The refusal lines logged so far (one per refused change). */
const refusals = () =>
  serve
    .stdout()
    .split('\n')
    .filter((l) => l.includes('policy change refused'));

/** Waits for the n-th refusal and returns its line. */
async function refusal(n: number): Promise<string> {
  await serve.waitForOutput(new RegExp(`(?:policy change refused[^]*){${n}}`));
  return refusals()[n - 1]!;
}

/** The last good set (ALLOW /allowed* for shop/orders) still decides both ways. */
async function lastGoodServes(): Promise<void> {
  expect((await clients.check(httpCheck('/allowed/x'))).status?.code ?? 0).toBe(0);
  expect((await clients.check(httpCheck('/secret'))).status.code).toBe(7);
}

describe('hostile policy-file edits under a watching serve process', () => {
  it('an alias bomb appended to a policy file is refused at its line; the last good set serves', async () => {
    writeFileSync(join(policies, 'orders.yaml'), `${ORDERS_POLICY}---\n${ALIAS_BOMB}`);
    const line = await refusal(1);
    // ORDERS_POLICY is 14 lines, then `---`: the bomb's document starts on line 16.
    expect(line).toMatch(/orders\.yaml:16: error: YAML document cannot be loaded: [^"]*alias/);
    expect(serve.child.exitCode).toBeNull();
    await lastGoodServes();
  });

  it('a file that is not UTF-8 is refused at the line of the bad byte, not loaded with U+FFFD', async () => {
    // Line 14 (the paths) gains "/x<0xff>": a lossy read would load a rule for "/x\uFFFD".
    const [head, tail] = ORDERS_POLICY.split('"/api/*"') as [string, string];
    const bad = Buffer.concat([Buffer.from(`${head}"/api/*", "/x`), Buffer.from([0xff]), Buffer.from(`"${tail}`)]);
    writeFileSync(join(policies, 'orders.yaml'), bad);
    expect(await refusal(2)).toMatch(/orders\.yaml:14: error: not valid UTF-8 \(byte 0xff\)/);
    await lastGoodServes();
  });

  it('a symlink loop in the folder is refused; removing it and a good edit apply again', async () => {
    writeFileSync(join(policies, 'orders.yaml'), ORDERS_POLICY);
    symlinkSync(join(policies, 'loop.yaml'), join(policies, 'loop.yaml'));
    expect(await refusal(3)).toMatch(/ELOOP/);
    await lastGoodServes();
    rmSync(join(policies, 'loop.yaml'));
    // A good edit (also allow /secret) applies: the watcher survived every refusal.
    writeFileSync(join(policies, 'orders.yaml'), ORDERS_POLICY.replace('"/api/*"', '"/api/*", "/secret"'));
    await serve.waitForOutput(/"msg":"policies reloaded"/);
    expect((await clients.check(httpCheck('/secret'))).status?.code ?? 0).toBe(0);
    expect((await clients.check(httpCheck('/other'))).status.code).toBe(7);
  });
});

describe('an alias bomb at startup', () => {
  it('stops serve with exit 2 and file:line, no stack trace', async () => {
    const startDir = mkdtempSync(join(tmpdir(), 'policy-seams-start-'));
    try {
      mkdirSync(join(startDir, 'policies'));
      writeFileSync(join(startDir, 'policies', 'bomb.yaml'), ALIAS_BOMB);
      writeFileSync(
        join(startDir, 'config.yaml'),
        'server: { listen: 127.0.0.1:0 }\nadmin: { listen: 127.0.0.1:0 }\npolicy: { paths: [policies] }\n',
      );
      const run = runCli(cli, ['serve', '--config', join(startDir, 'config.yaml')]);
      expect(await run.exit).toBe(2);
      expect(run.stderr()).toMatch(/bomb\.yaml:1: error: YAML document cannot be loaded/);
      expect(run.stderr()).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(startDir, { recursive: true, force: true });
    }
  });
});
