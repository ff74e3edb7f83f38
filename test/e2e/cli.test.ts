import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltCli, buildCli, runCli } from '../support/built-cli.js';
import { python } from '../support/python.js';

/**
 * The built `mesh-authz` binary as a separate process: serve, signals, exit codes and its error messages. Kept to
 * the few things only a process shows; the commands' other behaviour is tested in-process (commands.test.ts).
 */

let cli: BuiltCli;
let dir: string;
beforeAll(() => {
  cli = buildCli('cli-e2e');
  dir = mkdtempSync(join(tmpdir(), 'mesh-authz-cli-'));
}, 120_000);
afterAll(() => {
  cli.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('mesh-authz serve', () => {
  it('serves examples/, prints where it listens and commands to try, and exits 0 on SIGTERM', async () => {
    const run = runCli(cli, [
      'serve',
      '--config',
      'examples/config.yaml',
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
    ]);
    const [, grpcAddress] = await run.waitForOutput(/mesh-authz listening: gRPC (127\.0\.0\.1:\d+)/);
    await run.waitForOutput(/Stop with Ctrl-C/);
    expect(run.stderr()).toContain('check --config examples/config.yaml --request examples/requests/allowed.json');
    expect(run.stderr()).toContain('--request examples/requests/denied.json');
    expect(run.stderr()).toContain('policies: loaded, SERVING');
    const [health, allowed, denied, expired] = await Promise.all([
      python(['--target', grpcAddress!, 'health']),
      python(['--target', grpcAddress!, 'check', '--request', 'examples/requests/allowed.json']),
      python(['--target', grpcAddress!, 'check', '--request', 'examples/requests/denied.json']),
      python(['--target', grpcAddress!, 'check', '--request', 'examples/requests/expired-token.json']),
    ]);
    expect(health).toEqual({ status: 'SERVING' });
    // The frontend's SVID (forwarded as Envoy's include_peer_certificate) is verified, and orders allows it.
    expect(allowed).toMatchObject({ status: 'OK', ok: true });
    // catalog → payments: no ALLOW policy matches.
    expect(denied).toMatchObject({ status: 'PERMISSION_DENIED', httpStatus: 403 });
    // An expired end-user token is an identity failure: 401, with a bearer challenge.
    expect(expired).toMatchObject({ status: 'UNAUTHENTICATED', httpStatus: 401 });
    expect((expired.headers as Record<string, string>)['www-authenticate']).toMatch(/^Bearer /);

    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect(run.stdout()).toMatch(/"msg":"draining"/);
    expect(run.stdout()).toMatch(/"msg":"stopped"/);
  });

  describe('when the port is in use', () => {
    let blocker: Server;
    let port: number;
    beforeAll(async () => {
      blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      port = (blocker.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => blocker.close(() => r())));

    it('says so clearly and exits 1', async () => {
      const run = runCli(cli, ['serve', '--config', 'examples/config.yaml', '--listen', `127.0.0.1:${port}`]);
      expect(await run.exit).toBe(1);
      expect(run.stderr()).toContain(
        `cannot listen on 127.0.0.1:${port}: the port is already in use by another process`,
      );
    });
  });

  it('a bad config stops startup with the file, line and key', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server:\n  listen: 127.0.0.1:9191\n  drainTimeoutMs: soon\nadmin:\n  enabled: true\n');
    const bad = runCli(cli, ['serve', '--config', file]);
    expect(await bad.exit).toBe(2);
    expect(bad.stderr()).toContain(`${file}:3: server.drainTimeoutMs:`);
  });
});

describe('mesh-authz check (process: stdin)', () => {
  it('reads the request from stdin with -, snake_case names accepted', async () => {
    const req = JSON.stringify({
      attributes: {
        request: { http: { method: 'GET', path: '/x', headers: {} } },
        context_extensions: { namespace: 'shop' },
      },
    });
    const run = runCli(cli, ['check', '--request', '-'], req);
    expect(await run.exit).toBe(0);
    expect(JSON.parse(run.stdout())).toMatchObject({ allowed: false, workload: { namespace: 'shop' } });
  });
});
