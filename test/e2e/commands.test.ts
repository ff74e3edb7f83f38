import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand } from '../../src/cli/check.js';
import { serveCommand } from '../../src/cli/serve.js';
import { ConfigError } from '../../src/config/errors.js';
import { capture } from '../support/capture.js';

/** `check` and `serve` run in-process (their `run` returns the exit code): output, exit codes, error messages. */

const ROOT = join(import.meta.dirname, '../..');
const ex = (rel: string) => join(ROOT, 'examples', rel);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mesh-authz-cmd-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('check', () => {
  const expected: Record<string, [boolean, string, number, string | null]> = {
    'allowed.json': [true, 'OK', 200, 'shop/orders-from-frontend'],
    'denied.json': [false, 'PERMISSION_DENIED', 403, null],
    'denied-by-deny-policy.json': [false, 'PERMISSION_DENIED', 403, 'shop/payments-deny-admin'],
    'user-allowed.json': [true, 'OK', 200, 'shop/catalog'],
    'user-denied.json': [false, 'PERMISSION_DENIED', 403, null],
    'expired-token.json': [false, 'UNAUTHENTICATED', 401, null],
  };
  it.each(Object.entries(expected))(
    '%s → one JSON decision, exit 0',
    async (file, [allowed, status, httpStatus, policy]) => {
      const { code, out } = await capture(() =>
        checkCommand.run(['--config', ex('config.yaml'), '--request', ex(`requests/${file}`)]),
      );
      expect(code).toBe(0);
      const result = JSON.parse(out) as Record<string, unknown>;
      expect(result).toMatchObject({ allowed, status, httpStatus, policy });
      expect(typeof result.reason).toBe('string');
    },
  );

  it('--policy replaces the configured policies', async () => {
    const policy = join(dir, 'open-payments.yaml');
    writeFileSync(
      policy,
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: open, namespace: shop }\nspec:\n  selector: { matchLabels: { app: payments } }\n  rules: [{}]\n',
    );
    const { code, out } = await capture(() =>
      checkCommand.run(['-c', ex('config.yaml'), '-p', policy, '-r', ex('requests/denied.json')]),
    );
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ allowed: true, policy: 'shop/open' });
  });

  it('without a config: no policies, so the check is denied UNAVAILABLE (fail closed), still exit 0', async () => {
    const { code, out } = await capture(() => checkCommand.run(['--request', ex('requests/allowed.json')]));
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ allowed: false, status: 'UNAVAILABLE', httpStatus: 403 });
  });

  it('bad input: exit 2 with the file and what is wrong', async () => {
    const notJson = join(dir, 'broken.json');
    writeFileSync(notJson, '{"attributes": ');
    const wrongShape = join(dir, 'wrong.json');
    writeFileSync(wrongShape, JSON.stringify({ attributes: { request: { http: { headers: 'nope' } } } }));
    const missing = await capture(() => checkCommand.run(['--request', join(dir, 'none.json')]));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain(`${join(dir, 'none.json')}: no such file`);
    const broken = await capture(() => checkCommand.run(['--request', notJson]));
    expect(broken.code).toBe(2);
    expect(broken.err).toContain(`${notJson}: not valid JSON`);
    const wrong = await capture(() => checkCommand.run(['--request', wrongShape]));
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain(wrongShape);
    await expect(checkCommand.run([])).rejects.toThrow('--request is required');
  });

  it('an invalid policy: exit 2 naming its file', async () => {
    const bad = join(dir, 'bad-deny.yaml');
    writeFileSync(
      bad,
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: bad, namespace: shop }\nspec:\n  action: DENY\n',
    );
    const { code, err } = await capture(() => checkCommand.run(['-p', bad, '-r', ex('requests/denied.json')]));
    expect(code).toBe(2);
    expect(err).toContain(`${bad}:`);
  });
});

describe('serve (failures before listening)', () => {
  it('an invalid policy stops startup with its file and line (exit 2)', async () => {
    const policies = join(dir, 'policies');
    mkdirSync(policies, { recursive: true });
    writeFileSync(
      join(policies, 'bad.yaml'),
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: bad, namespace: shop }\nspec:\n  action: DENY\n',
    );
    const config = join(dir, 'with-bad-policy.yaml');
    writeFileSync(
      config,
      'server: { listen: 127.0.0.1:0 }\nadmin: { listen: 127.0.0.1:0 }\npolicy: { paths: [policies] }\ntelemetry: { log: { level: silent } }\n',
    );
    const { code, err } = await capture(() => serveCommand.run(['--config', config]));
    expect(code).toBe(2);
    expect(err).toContain(join(policies, 'bad.yaml'));
  });

  describe('a port in use', () => {
    let blocker: Server;
    let port: number;
    beforeAll(async () => {
      blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      port = (blocker.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => blocker.close(() => r())));

    it('admin: says so clearly and exits 1', async () => {
      const config = join(dir, 'quiet.yaml');
      writeFileSync(config, 'policy: { paths: [] }\ntelemetry: { log: { level: silent } }\n');
      const { code, err } = await capture(() =>
        serveCommand.run(['--config', config, '--listen', '127.0.0.1:0', '--admin', `127.0.0.1:${port}`]),
      );
      expect(code).toBe(1);
      expect(err).toContain(`admin listener: 127.0.0.1:${port} is already in use`);
    });

    it('gRPC: says so clearly and exits 1', async () => {
      const config = join(dir, 'quiet.yaml');
      writeFileSync(config, 'policy: { paths: [] }\ntelemetry: { log: { level: silent } }\n');
      const { code, err } = await capture(() =>
        serveCommand.run(['--config', config, '--listen', `127.0.0.1:${port}`, '--admin', '127.0.0.1:0']),
      );
      expect(code).toBe(1);
      expect(err).toContain(`cannot listen on 127.0.0.1:${port}: the port is already in use by another process`);
    });
  });

  it('a missing config file is named', async () => {
    const missing = join(dir, 'nope.yaml');
    await expect(serveCommand.run(['--config', missing])).rejects.toSatisfy(
      (e) => e instanceof ConfigError && e.message.includes(`${missing}: no such file`),
    );
  });
});
