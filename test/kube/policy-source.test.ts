import { afterEach, describe, expect, it } from 'vitest';
import { createKubeApi } from '../../src/sources/kube/index.js';
import { type KubernetesPolicyOptions, KubernetesPolicySource } from '../../src/sources/kube/policy-source.js';
import { startFake, until } from './support.js';

/**
 * AuthorizationPolicies from the stand-in API server (test/support/fake-kube-api.ts, over TLS): label and provider
 * selection, v1 and v1beta1, atomic swap, last good set on an invalid change, a Warning Event on the refused object.
 */

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function ap(name: string, namespace: string, spec: Record<string, unknown>, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace, labels },
    spec,
  };
}

const EVALUATE = { 'authz.mesh-authz.io/evaluate': 'true' };
const allowOrders = {
  selector: { matchLabels: { app: 'orders' } },
  rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
};

async function startSource(fake: Awaited<ReturnType<typeof startFake>>, extra: Partial<KubernetesPolicyOptions> = {}) {
  const source = new KubernetesPolicySource(createKubeApi(fake.connection()), {
    namespaces: [],
    versions: ['v1', 'v1beta1'],
    compile: {},
    events: true,
    backoffMs: () => 20,
    ...extra,
  });
  await source.start();
  cleanup.push(() => source.close());
  return source;
}

const names = (source: KubernetesPolicySource) =>
  (source.current()?.policies ?? []).map((p) => `${p.policy.metadata.namespace}/${p.policy.metadata.name}`).sort();

describe('Kubernetes policy source (stand-in API server)', () => {
  it('loads the policies a label selector selects, served as v1 and v1beta1 but counted once', async () => {
    const fake = await startFake(cleanup);
    fake.put(ap('orders-allow', 'shop', allowOrders, EVALUATE));
    fake.put({ ...ap('legacy', 'shop', allowOrders, EVALUATE), apiVersion: 'security.istio.io/v1beta1' });
    fake.put(ap('not-selected', 'shop', allowOrders));
    const source = await startSource(fake, { labelSelector: 'authz.mesh-authz.io/evaluate=true' });
    expect(source.current()).toBeNull();
    await source.whenLive();
    expect(names(source)).toEqual(['shop/legacy', 'shop/orders-allow']);
    expect(source.current()?.policies[0]?.source.file).toMatch(/^kubernetes:security\.istio\.io\/v1\/namespaces\/shop/);
    // The selector went to the server, for lists and watches alike.
    const calls = () => fake.requests.filter((r) => r.path.endsWith('/authorizationpolicies'));
    await until(() => calls().filter((c) => c.query['watch'] === 'true').length >= 2, 'watches');
    expect(calls().length).toBeGreaterThanOrEqual(4);
    for (const c of calls()) expect(c.query['labelSelector']).toBe('authz.mesh-authz.io/evaluate=true');
  });

  it('works on a cluster that serves only v1beta1', async () => {
    const fake = await startFake(cleanup);
    fake.unserve('security.istio.io/v1');
    fake.put(ap('orders-allow', 'shop', allowOrders));
    const restarts: string[] = [];
    const source = await startSource(fake, { onRestart: (r, reason) => restarts.push(`${r}:${reason}`) });
    await source.whenLive();
    expect(names(source)).toEqual(['shop/orders-allow']);
    // The unserved version was dropped after its 404, not retried (and not reported as an outage).
    const v1 = () => fake.requests.filter((r) => r.path === '/apis/security.istio.io/v1/authorizationpolicies');
    expect(v1()).toHaveLength(1);
    expect(restarts.filter((r) => r.includes('.v1:'))).toEqual([]);
  });

  it('by provider: leaves out CUSTOM policies that delegate to another provider, keeps ours and the rest', async () => {
    const fake = await startFake(cleanup);
    fake.put(ap('ours', 'shop', { action: 'CUSTOM', provider: { name: 'mesh-authz' }, rules: [{}] }));
    fake.put(ap('opa', 'shop', { action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] }));
    fake.put(ap('deny-admin', 'shop', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }));
    const source = await startSource(fake, { provider: 'mesh-authz' });
    await source.whenLive();
    expect(names(source)).toEqual(['shop/deny-admin', 'shop/ours']);
  });

  it('swaps in changes atomically; an invalid change keeps the last good set and records an Event on the object', async () => {
    const fake = await startFake(cleanup);
    fake.put(ap('orders-allow', 'shop', allowOrders));
    const refusals: number[] = [];
    const source = await startSource(fake, { onRefused: () => refusals.push(1) });
    await source.whenLive();
    const first = source.current();
    expect(first?.generation).toBeGreaterThan(0);

    fake.put(ap('deny-admin', 'shop', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }));
    await until(() => names(source).includes('shop/deny-admin'), 'second policy');
    const good = source.current();
    expect(good?.generation).toBeGreaterThan(first?.generation ?? 0);

    // What istiod's webhook refuses (a CUSTOM policy without a provider) reached a cluster without the webhook.
    fake.put(ap('broken', 'shop', { action: 'CUSTOM', rules: [{}] }));
    await until(() => refusals.length > 0, 'refusal');
    expect(source.current()).toBe(good);
    await until(() => fake.list('Event').length > 0, 'event');
    const event = fake.list('Event')[0]!;
    expect(event['involvedObject']).toMatchObject({ kind: 'AuthorizationPolicy', name: 'broken', namespace: 'shop' });
    expect(event).toMatchObject({ type: 'Warning', reason: 'InvalidAuthorizationPolicy' });
    expect(String(event['message'])).toMatch(/provider/);

    // Deleting the bad object lets the next change through; the Event was recorded once.
    fake.remove('AuthorizationPolicy', 'shop', 'broken');
    await until(() => source.current() !== good, 'accepted again');
    expect(names(source)).toEqual(['shop/deny-admin', 'shop/orders-allow']);
    expect(fake.list('Event')).toHaveLength(1);
    fake.remove('AuthorizationPolicy', 'shop', 'deny-admin');
    await until(() => !names(source).includes('shop/deny-admin'), 'deleted policy gone');
  });

  it('keeps the last good set while the API server is away, and re-lists after 410 Gone', async () => {
    const fake = await startFake(cleanup);
    fake.put(ap('orders-allow', 'shop', allowOrders));
    const restarts: string[] = [];
    const source = await startSource(fake, { onRestart: (r, reason) => restarts.push(`${r}:${reason}`) });
    await source.whenLive();
    const good = source.current();
    const port = Number(new URL(fake.url).port);
    await fake.stop();
    fake.put(ap('added-while-down', 'shop', allowOrders));
    await until(() => restarts.some((r) => r.endsWith(':error')), 'reconnecting');
    expect(source.current()).toBe(good);
    await fake.start(port);
    await until(() => names(source).includes('shop/added-while-down'), 'converged');
    fake.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'shop' }, data: {} });
    fake.expireWatches();
    fake.put(ap('after-expiry', 'shop', allowOrders));
    await until(() => names(source).includes('shop/after-expiry'), 'after expiry');
    expect(restarts.some((r) => r.endsWith(':expired'))).toBe(true);
  });
});
