import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltCli, buildCli, runCli } from '../support/built-cli.js';
import { python } from '../support/python.js';

/** The built `mesh-authz` binary as a separate process: serve, signals, exit codes and its error messages. */

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
    // Health agrees with what the banner says about policies.
    const ready = !/none loaded yet/.test(run.stderr());
    expect(await python(['--target', grpcAddress!, 'health'])).toEqual({ status: ready ? 'SERVING' : 'NOT_SERVING' });
    const denied = await python(['--target', grpcAddress!, 'check', '--request', 'examples/requests/denied.json']);
    expect(denied).toMatchObject({ denied: true, httpStatus: 403 });

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

    it('gRPC and admin ports: each says so clearly and exits 1', async () => {
      const config = ['serve', '--config', 'examples/config.yaml'];
      const grpcRun = runCli(cli, [...config, '--listen', `127.0.0.1:${port}`, '--admin', '127.0.0.1:0']);
      const adminRun = runCli(cli, [...config, '--listen', '127.0.0.1:0', '--admin', `127.0.0.1:${port}`]);
      expect(await grpcRun.exit).toBe(1);
      expect(grpcRun.stderr()).toContain(
        `cannot listen on 127.0.0.1:${port}: the port is already in use by another process`,
      );
      expect(await adminRun.exit).toBe(1);
      expect(adminRun.stderr()).toContain(`admin listener: 127.0.0.1:${port} is already in use`);
    });
  });

  it('a bad or missing config stops startup with the file (and line and key)', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server:\n  listen: 127.0.0.1:9191\n  drainTimeoutMs: soon\nadmin:\n  enabled: true\n');
    const bad = runCli(cli, ['serve', '--config', file]);
    const missing = runCli(cli, ['serve', '--config', join(dir, 'nope.yaml')]);
    expect(await bad.exit).toBe(2);
    expect(bad.stderr()).toContain(`${file}:3: server.drainTimeoutMs:`);
    expect(await missing.exit).toBe(2);
    expect(missing.stderr()).toContain(`${join(dir, 'nope.yaml')}: no such file`);
  });
});

describe('mesh-authz check', () => {
  it('prints one decision as JSON and exits 0', async () => {
    const run = runCli(cli, [
      'check',
      '--config',
      'examples/config.yaml',
      '--request',
      'examples/requests/denied.json',
    ]);
    expect(await run.exit).toBe(0);
    const out = JSON.parse(run.stdout()) as Record<string, unknown>;
    expect(out.allowed).toBe(false);
    expect(['PERMISSION_DENIED', 'UNAVAILABLE']).toContain(out.status);
    expect(out.httpStatus).toBe(403);
    expect(typeof out.reason).toBe('string');
    expect(out).toHaveProperty('policy');
  });

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

  it('bad input: exit 2 with the file and what is wrong', async () => {
    const notJson = join(dir, 'broken.json');
    writeFileSync(notJson, '{"attributes": ');
    const wrongShape = join(dir, 'wrong.json');
    writeFileSync(wrongShape, JSON.stringify({ attributes: { request: { http: { headers: 'nope' } } } }));
    const runs = {
      missing: runCli(cli, ['check', '--request', join(dir, 'none.json')]),
      broken: runCli(cli, ['check', '--request', notJson]),
      wrong: runCli(cli, ['check', '--request', wrongShape]),
      usage: runCli(cli, ['check']),
    };
    for (const run of Object.values(runs)) expect(await run.exit).toBe(2);
    expect(runs.missing.stderr()).toContain(`${join(dir, 'none.json')}: no such file`);
    expect(runs.broken.stderr()).toContain(`${notJson}: not valid JSON`);
    expect(runs.wrong.stderr()).toContain(wrongShape);
    expect(runs.usage.stderr()).toContain('--request is required');
  });
});
