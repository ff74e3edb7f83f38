import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeApi } from '../../src/sources/kube/index.js';
import { createKubernetesSources, type KubernetesSourcesOptions } from '../../src/sources/kube/sources.js';
import type { FakeKubeApi } from '../support/fake-kube-api.js';
import { pod, startFake, until } from './support.js';

/**
 * Enforcing offline from the last good state: snapshots written while the stand-in API server answers
 * (test/support/fake-kube-api.ts), loaded when a replica starts with it down, marked stale, replaced as soon as it
 * answers; corrupt and foreign snapshots refused.
 */

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const allow = {
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'orders-allow', namespace: 'shop' },
  spec: { selector: { matchLabels: { app: 'orders' } }, rules: [{ from: [{ source: { namespaces: ['shop'] } }] }] },
};

function snapshotDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-authz-snapshot-'));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startSources(fake: FakeKubeApi, dir: string, extra: Partial<KubernetesSourcesOptions> = {}) {
  const metricsRegistry = new Registry();
  const logs: string[] = [];
  const sources = createKubernetesSources(createKubeApi(fake.connection()), {
    namespaces: [],
    resyncMs: 0,
    workloads: true,
    policies: { enabled: true, versions: ['v1'], events: false },
    compile: {},
    snapshotDir: dir,
    server: fake.url,
    // Long: the fallback must come from the first failed attempt, not from this timeout.
    startupTimeoutMs: 60_000,
    backoffMs: () => 20,
    metricsRegistry,
    log: (level, msg) => logs.push(`${level} ${msg}`),
    ...extra,
  });
  await sources.start();
  cleanup.push(() => sources.close());
  return { sources, metricsRegistry, logs };
}

/** Runs the sources once against a live server so that they write their snapshots, then stops the server. */
async function recordThenGoDown(fake: FakeKubeApi, dir: string): Promise<number> {
  fake.put(allow);
  fake.put(pod('orders-1', 'shop', { ip: '10.0.0.5', labels: { app: 'orders' }, sa: 'orders' }));
  const { sources } = await startSources(fake, dir);
  expect(sources.policies?.stale).toBe(false);
  await until(
    () => existsSync(join(dir, 'policies.snapshot')) && existsSync(join(dir, 'workloads.snapshot')),
    'snapshots',
  );
  await sources.close();
  const port = Number(new URL(fake.url).port);
  await fake.stop();
  return port;
}

describe('offline from the last good snapshot', () => {
  it('starts with the API server down from the snapshot (stale), then switches to live as soon as it answers', async () => {
    const fake = await startFake(cleanup);
    const dir = snapshotDir();
    const port = await recordThenGoDown(fake, dir);
    fake.put(pod('orders-2', 'shop', { ip: '10.0.0.6', labels: { app: 'orders' }, sa: 'orders' }));

    const { sources, metricsRegistry } = await startSources(fake, dir);
    // Enforcing from the snapshot, not denying the mesh for lack of policies.
    expect(sources.policies?.current()?.policies.map((p) => p.policy.metadata.name)).toEqual(['orders-allow']);
    expect(sources.registry?.byAddress('10.0.0.5')).toMatchObject({ name: 'orders-1', serviceAccount: 'orders' });
    expect(sources.policies?.stale).toBe(true);
    expect(sources.registry?.stale).toBe(true);
    expect(sources.readiness().join('\n')).toMatch(/policies: stale snapshot from .*\nworkloads: stale snapshot/);
    expect(await metricsRegistry.metrics()).toContain('mesh_authz_source_stale{source="policies"} 1');

    await fake.start(port);
    await until(() => sources.registry?.byAddress('10.0.0.6') !== undefined, 'live registry');
    await until(() => sources.policies?.stale === false, 'live policies');
    expect(sources.registry?.stale).toBe(false);
    expect(sources.readiness()).toEqual([]);
    expect(await metricsRegistry.metrics()).toContain('mesh_authz_source_stale{source="policies"} 0');
  });

  it('refuses a corrupt snapshot (nothing loaded, counted) and a snapshot of another source', async () => {
    const fake = await startFake(cleanup);
    const dir = snapshotDir();
    await recordThenGoDown(fake, dir);
    const file = join(dir, 'policies.snapshot');
    const good = readFileSync(file);
    // One byte of the payload changed (a bit flip or a hand edit): the checksum no longer matches.
    const bad = Buffer.from(good);
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 1;
    writeFileSync(file, bad);
    const corrupt = await startSources(fake, dir);
    expect(corrupt.sources.policies?.current()).toBeNull();
    expect(corrupt.sources.registry?.byAddress('10.0.0.5')?.name).toBe('orders-1');
    expect(await corrupt.metricsRegistry.metrics()).toContain(
      'mesh_authz_snapshot_refused_total{kind="policies",reason="corrupt"} 1',
    );
    await corrupt.sources.close();

    // Intact, but written for another namespace scope: foreign, refused.
    writeFileSync(file, good);
    const foreign = await startSources(fake, dir, { namespaces: ['bank'] });
    expect(foreign.sources.policies?.current()).toBeNull();
    expect(foreign.sources.registry?.synced).toBe(false);
    expect(await foreign.metricsRegistry.metrics()).toContain(
      'mesh_authz_snapshot_refused_total{kind="policies",reason="foreign"} 1',
    );
    expect(foreign.logs.some((l) => l.startsWith('error policies snapshot refused'))).toBe(true);
  });
});
