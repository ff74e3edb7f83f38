import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

describe('the built binary', () => {
  it('serve: listens, prints commands to try, decides over gRPC, exits 0 on SIGTERM; bad config and check - too', async () => {
    // The three processes start together: on a loaded machine, Node's start-up dominates each of them.
    const serve = runCli(cli, [
      'serve',
      '--config',
      'examples/config.yaml',
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
    ]);
    const badConfig = join(dir, 'bad.yaml');
    writeFileSync(badConfig, 'server:\n  listen: 127.0.0.1:9191\n  drainTimeoutMs: soon\nadmin:\n  enabled: true\n');
    const bad = runCli(cli, ['serve', '--config', badConfig]);
    const snake = JSON.stringify({
      attributes: {
        request: { http: { method: 'GET', path: '/x', headers: {} } },
        context_extensions: { namespace: 'shop' },
      },
    });
    const stdin = runCli(cli, ['check', '--request', '-'], snake);

    // A bad config stops startup with the file, line and key (exit 2).
    expect(await bad.exit).toBe(2);
    expect(bad.stderr()).toContain('invalid configuration');
    expect(bad.stderr()).toContain(`${badConfig}:3: server.drainTimeoutMs:`);
    // check reads the request from stdin with -, snake_case names accepted (exit 0: a decision was made).
    expect(await stdin.exit).toBe(0);
    expect(JSON.parse(stdin.stdout())).toMatchObject({ allowed: false, workload: { namespace: 'shop' } });

    const [, grpcAddress] = await serve.waitForOutput(/mesh-authz listening: gRPC (127\.0\.0\.1:\d+)/);
    await serve.waitForOutput(/Stop with Ctrl-C/);
    // The embedded examples: try-it commands that work from an installed package (no test-only scripts).
    expect(serve.stderr()).toContain('  mesh-authz check -c examples/config.yaml -r examples/requests/allowed.json');
    expect(serve.stderr()).toContain('  mesh-authz check -c examples/config.yaml -r examples/requests/denied.json');
    expect(serve.stderr()).not.toContain('authz_client.py');
    expect(serve.stderr()).toContain('policies: loaded, SERVING');
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

    serve.child.kill('SIGTERM');
    expect(await serve.exit).toBe(0);
    expect(serve.stdout()).toMatch(/"msg":"draining"/);
    expect(serve.stdout()).toMatch(/"msg":"stopped"/);
  }, 90_000);
});
