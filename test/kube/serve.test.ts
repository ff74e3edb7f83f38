import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { WireCheckRequest } from '../../src/authz/wire-types.js';
import { loadConfigFile } from '../../src/config/load.js';
import { assembleParts } from '../../src/server/assemble.js';
import { AuthzService } from '../../src/server/service.js';
import type { FakeKubeApi } from '../support/fake-kube-api.js';
import { connect } from '../support/harness.js';
import { pod, startFake, until } from './support.js';

/**
 * `serve`'s assembly with `kubernetes:` against the stand-in API server (test/support/fake-kube-api.ts): policies
 * from the API server decide real gRPC checks; a replica started while the API server is down enforces the last
 * good snapshot (stale on /readyz) and moves to live data when the API server answers.
 */

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const policy = (paths: string[]) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'shop-allow', namespace: 'shop', labels: { 'authz.mesh-authz.io/evaluate': 'true' } },
  spec: { rules: [{ to: [{ operation: { paths } }] }] },
});

const request = (path: string): WireCheckRequest =>
  ({
    attributes: {
      request: { http: { method: 'GET', path, host: 'orders', headers: {} } },
      contextExtensions: { namespace: 'shop' },
    },
  }) as WireCheckRequest;

function writeConfig(fake: FakeKubeApi, dir: string): string {
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, stringify(fake.kubeconfig()));
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    stringify({
      server: { listen: '127.0.0.1:0' },
      admin: { listen: '127.0.0.1:0' },
      kubernetes: {
        enabled: true,
        kubeconfig: 'kubeconfig',
        policies: { enabled: true, labelSelector: 'authz.mesh-authz.io/evaluate=true' },
        snapshotDir: 'snapshots',
        startupTimeoutMs: 60_000,
      },
    }),
  );
  return file;
}

async function serve(file: string) {
  const loaded = loadConfigFile(file);
  const parts = await assembleParts(loaded);
  const service = new AuthzService(loaded, parts);
  const addresses = await service.start();
  const client = connect(addresses.grpc);
  cleanup.push(async () => {
    client.close();
    await service.shutdown('test');
  });
  const readyz = async () => {
    const res = await fetch(`http://${addresses.admin}/readyz`);
    return { status: res.status, body: await res.text() };
  };
  const allowed = async (path: string) => (await client.check(request(path))).status.code === 0;
  return { service, parts, readyz, allowed };
}

describe('serve with kubernetes: policies and workloads from the API server', () => {
  it('decides with live policies, then from the snapshot when started with the API server down', async () => {
    const fake = await startFake(cleanup);
    const dir = mkdtempSync(join(tmpdir(), 'mesh-authz-kube-serve-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    fake.put(policy(['/public']));
    fake.put(pod('orders-1', 'shop', { ip: '10.0.0.5', labels: { app: 'orders' } }));
    const file = writeConfig(fake, dir);

    const first = await serve(file);
    expect(await first.allowed('/public')).toBe(true);
    expect(await first.allowed('/admin')).toBe(false);
    expect(first.parts.registry.byAddress('10.0.0.5')?.name).toBe('orders-1');
    expect(await first.readyz()).toEqual({ status: 200, body: 'ready\n' });
    await until(() => first.parts.registry.synced, 'registry synced');
    // The registry snapshot is written at most once a second; then this replica and the API server stop.
    await until(() => existsSync(join(dir, 'snapshots', 'workloads.snapshot')), 'registry snapshot');
    await first.service.shutdown('test');
    const port = Number(new URL(fake.url).port);
    await fake.stop();
    fake.put(policy(['/public', '/v2']));

    const second = await serve(file);
    expect(await second.allowed('/public')).toBe(true);
    expect(await second.allowed('/admin')).toBe(false);
    expect(await second.allowed('/v2')).toBe(false);
    expect(second.parts.registry.byAddress('10.0.0.5')?.name).toBe('orders-1');
    const stale = await second.readyz();
    expect(stale.status).toBe(200);
    expect(stale.body).toMatch(/^ready\npolicies: stale snapshot from \d{4}-.*\nworkloads: stale snapshot from /);

    await fake.start(port);
    await until(() => second.parts.readiness().length === 0, 'policies and workloads live again');
    expect(await second.allowed('/v2')).toBe(true);
    expect(await second.readyz()).toEqual({ status: 200, body: 'ready\n' });
  });
});
