import { afterEach, describe, expect, it } from 'vitest';
import { createKubeApi } from '../../src/sources/kube/index.js';
import { KubernetesWorkloadRegistry } from '../../src/sources/kube/workload-registry.js';
import { pod, service, startFake, until } from './support.js';

/**
 * The Kubernetes workload registry against the stand-in API server (test/support/fake-kube-api.ts, over TLS):
 * real list and chunked JSON-lines watches of Pods and Services, 410 re-list, reconnect with backoff.
 */

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function startRegistry(fake: Awaited<ReturnType<typeof startFake>>, namespaces: string[] = []) {
  const restarts: string[] = [];
  const registry = new KubernetesWorkloadRegistry(createKubeApi(fake.connection()), {
    namespaces,
    backoffMs: () => 20,
    onRestart: (resource, reason) => restarts.push(`${resource}:${reason}`),
  });
  registry.start();
  cleanup.push(() => registry.stop());
  return { registry, restarts };
}

describe('Kubernetes workload registry (stand-in API server)', () => {
  it('maps Running pod IPs to namespace, labels, service account, name and the Services selecting them', async () => {
    const fake = await startFake(cleanup);
    fake.put(pod('orders-1', 'shop', { ip: '10.0.0.5', labels: { app: 'orders', v: '1' }, sa: 'orders' }));
    fake.put(service('orders', 'shop', { app: 'orders' }));
    fake.put(service('orders-v2', 'shop', { app: 'orders', v: '2' }));
    fake.put(service('other-ns', 'bank', { app: 'orders' }));
    fake.put(service('external', 'shop', undefined));
    const { registry } = await startRegistry(fake);
    expect(registry.synced).toBe(false);
    await registry.whenLive();
    expect(registry.synced).toBe(true);
    expect(registry.stale).toBe(false);
    expect(registry.byAddress('10.0.0.5')).toEqual({
      namespace: 'shop',
      labels: { app: 'orders', v: '1' },
      serviceAccount: 'orders',
      name: 'orders-1',
      // Only Services of the pod's namespace whose whole selector matches; none for selector-less Services.
      targets: [{ group: '', kind: 'Service', name: 'orders', namespace: 'shop' }],
    });
    expect(registry.byAddress('10.0.0.6')).toBeUndefined();
    expect(registry.byServiceAccount('shop', 'orders').map((w) => w.name)).toEqual(['orders-1']);
    expect(registry.byServiceAccount('bank', 'orders')).toEqual([]);
  });

  it('indexes only Running pods with an IP, never host-network pods by IP, and defaults the service account', async () => {
    const fake = await startFake(cleanup);
    fake.put(pod('pending', 'shop', { phase: 'Pending', labels: { app: 'p' } }));
    fake.put(pod('done', 'shop', { phase: 'Succeeded', ip: '10.0.0.7', labels: { app: 'd' } }));
    fake.put(pod('node-agent', 'kube-system', { ip: '192.168.1.10', hostNetwork: true, sa: 'agent' }));
    fake.put(pod('plain', 'shop', { ip: '10.0.0.8', labels: { app: 'plain' } }));
    const { registry } = await startRegistry(fake);
    await registry.whenLive();
    expect(registry.byAddress('10.0.0.7')).toBeUndefined();
    // The node's IP is shared by every host-network pod on it: it must never resolve to one of them.
    expect(registry.byAddress('192.168.1.10')).toBeUndefined();
    expect(registry.byServiceAccount('kube-system', 'agent').map((w) => w.name)).toEqual(['node-agent']);
    expect(registry.byAddress('10.0.0.8')).toMatchObject({ name: 'plain', serviceAccount: 'default' });
    expect(registry.size).toBe(2);
  });

  it('follows pods moving IPs, deleted pods, label changes, and an IP claimed by two pods resolves to nothing', async () => {
    const fake = await startFake(cleanup);
    fake.put(pod('a', 'shop', { ip: '10.0.0.1', labels: { app: 'a' } }));
    fake.put(pod('b', 'shop', { ip: '10.0.0.2', labels: { app: 'b' } }));
    const { registry } = await startRegistry(fake);
    await registry.whenLive();
    // The pod is re-created elsewhere: the old IP no longer resolves to it.
    fake.put(pod('a', 'shop', { ip: '10.0.0.9', labels: { app: 'a' } }));
    await until(() => registry.byAddress('10.0.0.9')?.name === 'a', 'a moved');
    expect(registry.byAddress('10.0.0.1')).toBeUndefined();
    // A label change is seen (it changes which policies select the pod).
    fake.put(pod('b', 'shop', { ip: '10.0.0.2', labels: { app: 'b', tier: 'gold' } }));
    await until(() => registry.byAddress('10.0.0.2')?.labels['tier'] === 'gold', 'b relabelled');
    // A Service created later shows up in targets.
    fake.put(service('b-svc', 'shop', { app: 'b' }));
    await until(() => registry.byAddress('10.0.0.2')?.targets?.length === 1, 'b targeted');
    // Two Running pods on one IP (the old pod's update has not arrived): ambiguous, fail closed.
    fake.put(pod('c', 'shop', { ip: '10.0.0.2', labels: { app: 'c' } }));
    await until(() => registry.byAddress('10.0.0.2') === undefined, 'ambiguous IP');
    fake.remove('Pod', 'shop', 'b');
    await until(() => registry.byAddress('10.0.0.2')?.name === 'c', 'IP is c alone');
    fake.remove('Pod', 'shop', 'c');
    await until(() => registry.byAddress('10.0.0.2') === undefined, 'deleted pod gone');
    expect(registry.byAddress('10.0.0.9')?.name).toBe('a');
  });

  it('re-lists after 410 Gone and after an API server restart, and keeps serving meanwhile', async () => {
    const fake = await startFake(cleanup);
    fake.put(pod('a', 'shop', { ip: '10.0.0.1', labels: { app: 'a' } }));
    const { registry, restarts } = await startRegistry(fake);
    await registry.whenLive();
    // A write elsewhere moves the global resourceVersion past the pods watch's, then history is compacted.
    fake.put(service('unrelated', 'shop', { app: 'z' }));
    fake.expireWatches();
    fake.put(pod('b', 'shop', { ip: '10.0.0.2', labels: { app: 'b' } }));
    await until(() => registry.byAddress('10.0.0.2') !== undefined, 'b after expiry');
    expect(restarts).toContain('pods:expired');
    const lists = fake.requests.filter((r) => r.path === '/api/v1/pods' && r.query['watch'] === undefined);
    expect(lists.length).toBeGreaterThanOrEqual(2);

    const port = Number(new URL(fake.url).port);
    await fake.stop();
    // The API server is away: the last known state keeps serving.
    expect(registry.byAddress('10.0.0.1')?.name).toBe('a');
    fake.remove('Pod', 'shop', 'a');
    await until(() => restarts.filter((r) => r === 'pods:error').length >= 2, 'reconnect attempts');
    await fake.start(port);
    await until(() => registry.byAddress('10.0.0.1') === undefined, 'converged after restart');
    expect(registry.byAddress('10.0.0.2')?.name).toBe('b');
  });

  it('watches only the configured namespaces', async () => {
    const fake = await startFake(cleanup);
    fake.put(pod('a', 'shop', { ip: '10.0.0.1' }));
    fake.put(pod('x', 'other', { ip: '10.0.0.2' }));
    const { registry } = await startRegistry(fake, ['shop']);
    await registry.whenLive();
    expect(registry.byAddress('10.0.0.1')?.name).toBe('a');
    expect(registry.byAddress('10.0.0.2')).toBeUndefined();
    expect(fake.requests.some((r) => r.path === '/api/v1/pods')).toBe(false);
  });
});
