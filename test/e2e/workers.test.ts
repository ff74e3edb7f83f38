import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { WireCheckRequest, WireCheckResponse } from '../../src/authz/wire-types.js';
import { healthServiceDefinition } from '../../src/server/health.js';
import { authorizationServiceDefinition } from '../../src/server/server.js';
import { type BuiltCli, buildCli, type CliRun, runCli } from '../support/built-cli.js';
import { httpCheck, startService } from '../support/harness.js';
import { startServeProcess } from '../support/serve-process.js';

/**
 * Issue 18 item 5: `server.workers: 2` as real processes. Checks over real gRPC from several TCP connections are
 * answered by both workers (each decision log line carries its process's pid), /metrics sums the workers, a killed
 * worker is replaced, SIGTERM to the primary puts every worker into its grace (health NOT_SERVING, /readyz 503),
 * drains them and exits 0; a worker that cannot start fails the start with its exit code. No timed assertions:
 * every wait is for a log line or an answer.
 */

const AuthorizationClient = grpc.makeGenericClientConstructor(authorizationServiceDefinition, 'Authorization');
const HealthClient = grpc.makeGenericClientConstructor(healthServiceDefinition, 'Health');

/** One TCP connection of its own (grpc-js otherwise shares one connection among clients of the same target). */
function dial(target: string) {
  const options = { 'grpc.use_local_subchannel_pool': 1 };
  const authz = new AuthorizationClient(
    target,
    grpc.credentials.createInsecure(),
    options,
  ) as unknown as grpc.Client & {
    Check(req: WireCheckRequest, cb: (e: grpc.ServiceError | null, r?: WireCheckResponse) => void): void;
  };
  // Health on the same channel, so the same connection (and worker) as the checks.
  const health = new HealthClient(target, grpc.credentials.createInsecure(), {
    channelOverride: authz.getChannel(),
  }) as unknown as grpc.Client & {
    Check(req: { service: string }, cb: (e: grpc.ServiceError | null, r?: { status: number }) => void): void;
  };
  return {
    check: (req: WireCheckRequest) =>
      new Promise<WireCheckResponse>((resolve, reject) => authz.Check(req, (e, r) => (e ? reject(e) : resolve(r!)))),
    health: () =>
      new Promise<number>((resolve, reject) =>
        health.Check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r!.status))),
      ),
    close() {
      authz.close();
    },
  };
}

/** Resolves once `run`'s output has `count` matches of `pattern` (one regex that asks for them all). */
function waitForMatches(run: CliRun, pattern: RegExp, count: number): Promise<RegExpMatchArray> {
  return run.waitForOutput(new RegExp(`(?:[\\s\\S]*?${pattern.source}){${count}}`));
}

/** Resolves once a decision log line for a path starting with `prefix` was written by process `pid`. */
function decidedBy(run: CliRun, pid: number, prefix: string): Promise<RegExpMatchArray> {
  return run.waitForOutput(new RegExp(`"pid":${pid},[^\\n]*"path":"${prefix.replace(/\//g, '\\/')}`));
}

async function metric(admin: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

describe('server.workers: 2', () => {
  let cli: BuiltCli;
  let dir: string;

  beforeAll(() => {
    cli = buildCli('workers');
    dir = mkdtempSync(join(tmpdir(), 'workers-'));
  });
  afterAll(() => {
    cli.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('both workers answer, a killed one is replaced, SIGTERM drains all and exits 0', async () => {
    const server = await startServeProcess(
      cli,
      join(dir, 'pool'),
      { workers: 2, shutdownGraceMs: 3000, drainTimeoutMs: 2000 },
      { telemetry: { log: { decisions: 'all', allowSampleRate: 1 } } },
    );
    // A failed assertion must not leave the pool running (its workers follow the primary out).
    onTestFinished(() => {
      if (server.run.child.exitCode === null) server.run.child.kill('SIGKILL');
    });
    const [, a, b] = await server.run.waitForOutput(/workers: 2 processes \(pids (\d+), (\d+)\)/);
    const pids = [Number(a), Number(b)];
    expect(pids[0]).not.toBe(pids[1]);
    expect(pids).not.toContain(server.pid);

    // The banner comes once every worker listens; each was held NOT_SERVING until then (its own "listening" line
    // says ready: false), and the pool is SERVING now.
    await waitForMatches(server.run, /"admin":null,"ready":false,"msg":"mesh-authz listening"/, 2);
    const readyz = await fetch(`http://${server.admin}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.text()).toMatch(/workers: 2\/2 ready/);

    // Several connections: round-robin hands them to both workers; every one says SERVING and decides.
    const conns = Array.from({ length: 6 }, () => dial(server.grpc));
    let checks = 0;
    for (const [i, conn] of conns.entries()) {
      expect(await conn.health()).toBe(1);
      expect((await conn.check(httpCheck(`/allowed/c${i}`))).status?.code ?? 0).toBe(0);
      expect((await conn.check(httpCheck('/secret'))).status.code).toBe(7);
      checks += 2;
    }
    await Promise.all(pids.map((pid) => decidedBy(server.run, pid, '/allowed/c')));
    // /metrics is the sum over the workers (prom-client's AggregatorRegistry in the primary).
    expect(await metric(server.admin, 'mesh_authz_decisions_total')).toBe(checks);
    expect(await metric(server.admin, 'mesh_authz_workers_ready')).toBe(2);
    expect(await metric(server.admin, 'mesh_authz_policy_generation')).toBe(1);

    // A worker killed outright is logged and replaced in its slot; the pool keeps answering.
    const [victim, survivor] = pids as [number, number];
    process.kill(victim, 'SIGKILL');
    await server.run.waitForOutput(
      new RegExp(`"workerPid":${victim},"code":null,"signal":"SIGKILL"[^\\n]*worker exited unexpectedly`),
    );
    const [, , replacement] = await server.run.waitForOutput(
      new RegExp(`"worker":(\\d),"workerPid":(?!${victim},|${survivor},)(\\d+),"ready":true,"msg":"worker listening"`),
    );
    const fresh = Array.from({ length: 4 }, () => dial(server.grpc));
    for (const [i, conn] of fresh.entries()) {
      expect((await conn.check(httpCheck(`/allowed/r${i}`))).status?.code ?? 0).toBe(0);
      checks++;
    }
    await Promise.all([survivor, Number(replacement)].map((pid) => decidedBy(server.run, pid, '/allowed/r')));
    expect(await metric(server.admin, 'mesh_authz_worker_restarts_total')).toBe(1);
    expect((await fetch(`http://${server.admin}/readyz`)).status).toBe(200);

    // SIGTERM to the primary: every worker enters its grace (NOT_SERVING, still answering), then drains and exits.
    server.run.child.kill('SIGTERM');
    await waitForMatches(server.run, /still answering checks during the grace period/, 2);
    const readyzDraining = await fetch(`http://${server.admin}/readyz`);
    expect(readyzDraining.status).toBe(503);
    const late = dial(server.grpc);
    expect(await late.health()).toBe(2);
    expect((await late.check(httpCheck('/allowed/late'))).status?.code ?? 0).toBe(0);
    late.close();
    for (const conn of [...conns, ...fresh]) conn.close();

    expect(await server.run.exit).toBe(0);
    const exits = [...server.run.stdout().matchAll(/"code":0,"signal":null,"msg":"worker exited"/g)];
    expect(exits).toHaveLength(2);
    expect(server.run.stdout()).toMatch(new RegExp(`"pid":${server.pid},[^\\n]*"code":0,"msg":"stopped"`));
  }, 90_000);

  it('a worker that cannot start fails the start with its exit code and message', async () => {
    const broken = join(dir, 'broken');
    mkdirSync(join(broken, 'policies'), { recursive: true });
    // Parses as YAML, fails validation: each worker loads the policies itself and stops with exit code 2.
    writeFileSync(
      join(broken, 'policies', 'broken.yaml'),
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nspec: 3\n',
    );
    const config = {
      server: { listen: '127.0.0.1:0', workers: 2 },
      admin: { listen: '127.0.0.1:0' },
      policy: { paths: ['policies'], watch: false },
    };
    writeFileSync(join(broken, 'config.yaml'), JSON.stringify(config));
    const run = runCli(cli, ['serve', '--config', join(broken, 'config.yaml')]);
    const code = await run.exit;
    expect(run.stderr()).toMatch(/broken\.yaml/);
    expect(run.stderr()).toMatch(/worker \d failed to start \(exit code 2\); stopping the other workers/);
    expect(run.stderr()).not.toMatch(/mesh-authz listening/);
    expect(code).toBe(2);
  }, 60_000);

  it('a bad workers setting stops startup before any worker is forked', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server:\n  listen: 127.0.0.1:0\n  workers: 0\n');
    const run = runCli(cli, ['serve', '--config', file]);
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toMatch(/bad\.yaml:3/);
    expect(run.stdout()).not.toMatch(/starting worker processes/);
  }, 30_000);
});

describe('a held worker (in process)', () => {
  it('answers checks but says NOT_SERVING until released, then follows its own readiness', async () => {
    const { service, addresses } = await startService({ admin: { enabled: false } }, { held: true });
    const conn = dial(addresses.grpc);
    try {
      expect(service.localReady()).toBe(true);
      expect(service.ready()).toBe(false);
      expect(await conn.health()).toBe(2);
      expect((await conn.check(httpCheck('/allowed/x'))).status?.code ?? 0).toBe(0);
      service.release();
      expect(await conn.health()).toBe(1);
      await service.shutdown('test');
      expect(service.ready()).toBe(false);
      expect(service.localReady()).toBe(false);
    } finally {
      conn.close();
      await service.shutdown('test');
    }
  });
});
