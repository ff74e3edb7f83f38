import { appendFileSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireCheckRequest } from '../../src/authz/wire-types.js';
import { type BuiltCli, buildCli, type CliRun, runCli } from '../support/built-cli.js';
import { type Clients, connect, httpCheck } from '../support/harness.js';

/**
 * A policy file being edited never opens the mesh: the real `serve` process watches a policy folder while this test
 * keeps checks flowing over gRPC and edits the file the way editors and tools do (`: > file` then write, delete then
 * re-create, write in two halves). Every check that the policies deny must stay denied throughout. The counts are
 * printed for the closing note.
 */

// DENY first, ALLOW second: the first half of the file (DENY only) would leave orders with no ALLOW policy, which
// under Istio's rules allows everything the DENY does not name.
const DENY_DOC = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: orders-deny-admin, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: DENY
  rules:
    - to: [{ operation: { paths: ["/admin/*"] } }]
---
`;
const ALLOW_DOC = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: orders-allow-reads, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: ALLOW
  rules:
    - to: [{ operation: { methods: [GET], paths: ["/orders/*"] } }]
`;
const FULL = DENY_DOC + ALLOW_DOC;

/** Checks the policies deny (DENY rule, or no ALLOW rule matches), and one they allow. */
const SHOULD_DENY: readonly WireCheckRequest[] = [
  httpCheck('/admin/users'),
  httpCheck('/orders/1', { method: 'POST' }),
  httpCheck('/payments/charge'),
];
const SHOULD_ALLOW = httpCheck('/orders/1');

let cli: BuiltCli;
let dir: string;
let file: string;
let serve: CliRun;
let clients: Clients;

beforeAll(async () => {
  cli = buildCli('policy-edits');
  dir = mkdtempSync(join(tmpdir(), 'policy-edits-'));
  mkdirSync(join(dir, 'policies'));
  file = join(dir, 'policies', 'shop.yaml');
  writeFileSync(file, FULL);
  // A short grace period so a truncation settles (and is refused) while the test waits, instead of 3 s.
  writeFileSync(
    join(dir, 'config.yaml'),
    `server: { listen: 127.0.0.1:0 }
admin: { listen: 127.0.0.1:0 }
policy: { paths: [policies], watch: true, reloadDebounceMs: 100, emptyFileGraceMs: 300 }
telemetry: { log: { decisions: none } }
`,
  );
  serve = runCli(cli, ['serve', '--config', join(dir, 'config.yaml')]);
  const [, grpcAddress] = await serve.waitForOutput(/mesh-authz listening: gRPC (127\.0\.0\.1:\d+)/);
  await serve.waitForOutput(/Stop with Ctrl-C/);
  clients = connect(grpcAddress!);
}, 120_000);

afterAll(async () => {
  clients?.close();
  serve?.child.kill('SIGTERM');
  await serve?.exit;
  cli?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves once the server's output contains `pattern` at least `n` times. */
async function waitForCount(pattern: string, n: number): Promise<void> {
  while (count(pattern) < n) {
    if (serve.child.exitCode !== null) throw new Error(`serve exited:\n${serve.stderr()}\n${serve.stdout()}`);
    await sleep(20);
  }
}

function count(pattern: string): number {
  return serve.stdout().split(pattern).length - 1;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Load {
  checks: number;
  deniedAllowed: number;
  allowedDenied: number;
  stop(): Promise<void>;
}

/** Sixteen concurrent callers, each cycling through the should-deny checks and the should-allow one. */
function startLoad(): Load {
  let running = true;
  const load: Load = { checks: 0, deniedAllowed: 0, allowedDenied: 0, stop: async () => {} };
  const caller = async (offset: number) => {
    for (let i = offset; running; i++) {
      const k = i % (SHOULD_DENY.length + 1);
      const req = k < SHOULD_DENY.length ? SHOULD_DENY[k]! : SHOULD_ALLOW;
      const res = await clients.check(req);
      load.checks++;
      const allowed = res.status?.code === 0;
      if (k < SHOULD_DENY.length && allowed) load.deniedAllowed++;
      if (k === SHOULD_DENY.length && !allowed) load.allowedDenied++;
    }
  };
  const callers = Array.from({ length: 16 }, (_, i) => caller(i));
  load.stop = async () => {
    running = false;
    await Promise.all(callers);
  };
  return load;
}

const RELOADED = '"msg":"policies reloaded"';
const REFUSED = 'policy reload refused';

describe('editing a policy file under load (real serve process, gRPC on loopback)', () => {
  it('never allows a denied check while the file is truncated, deleted and re-created, or written in two halves', async () => {
    const load = startLoad();
    const figures: Record<string, { checks: number; deniedAllowed: number; allowedDenied: number }> = {};
    const phase = async (name: string, edit: () => Promise<void>) => {
      const before = { checks: load.checks, deniedAllowed: load.deniedAllowed, allowedDenied: load.allowedDenied };
      await edit();
      figures[name] = {
        checks: load.checks - before.checks,
        deniedAllowed: load.deniedAllowed - before.deniedAllowed,
        allowedDenied: load.allowedDenied - before.allowedDenied,
      };
    };
    await sleep(200); // load flowing before the first edit

    // `: > shop.yaml`, then the content comes back once the server has judged the empty file (and refused it).
    await phase('truncate', async () => {
      truncateSync(file, 0);
      await waitForCount(REFUSED, 1);
      writeFileSync(file, FULL);
      await waitForCount(RELOADED, 1);
    });
    // Delete, then re-create.
    await phase('delete+recreate', async () => {
      rmSync(file);
      await waitForCount(REFUSED, 2);
      writeFileSync(file, FULL);
      await waitForCount(RELOADED, 2);
    });
    // Written in two halves (open with truncation, first half, a pause, second half), as a slow writer does.
    await phase('two halves', async () => {
      writeFileSync(file, DENY_DOC);
      await sleep(50);
      appendFileSync(file, ALLOW_DOC);
      await waitForCount(RELOADED, 3);
    });
    await load.stop();

    const total = Object.values(figures).reduce((a, f) => a + f.checks, 0);
    process.stdout.write(`policy edits under load: ${JSON.stringify({ total, ...figures })}\n`);
    for (const f of Object.values(figures)) expect(f.checks).toBeGreaterThan(0);
    expect(Object.values(figures).map((f) => f.deniedAllowed)).toEqual([0, 0, 0]);
    expect(Object.values(figures).map((f) => f.allowedDenied)).toEqual([0, 0, 0]);
    // Each refusal was logged once (however many file events the edit caused), and counted.
    expect(count(REFUSED)).toBe(2);
    expect(serve.stdout()).toContain('"namespaces":["shop"]');
    const admin = serve.stderr().match(/admin http:\/\/(127\.0\.0\.1:\d+)/)![1];
    const metrics = await (await fetch(`http://${admin}/metrics`)).text();
    expect(metrics).toContain('mesh_authz_policy_reload_refusals_total{reason="drops_namespace"} 2');
    expect(Number(metrics.match(/^mesh_authz_policy_reloads_total (\d+)$/m)?.[1])).toBeGreaterThanOrEqual(4);
    // The last good content serves at the end.
    expect((await clients.check(SHOULD_ALLOW)).status?.code).toBe(0);
    expect((await clients.check(SHOULD_DENY[1]!)).status?.code).toBe(7);
  }, 120_000);
});
