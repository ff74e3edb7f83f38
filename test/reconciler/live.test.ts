import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { defaultOptions, type LiveOptions, LiveReconciler, startHealthServer } from '../../src/reconciler/index.js';
import { createKubeApi, KubeError, loadKubeConnection, Resources } from '../../src/sources/kube/index.js';
import { FakeKubeApi } from '../support/fake-kube-api.js';

/**
 * Live mode against the stand-in API server (test/support/fake-kube-api.ts), over TLS verified against its test CA:
 * real list/watch/apply wire format, resourceVersions, 410 Gone, restarts. The same client on every Node version.
 */

const MANAGED = { 'app.kubernetes.io/managed-by': 'mesh-authz' };

function service(name: string, namespace: string, annotations: Record<string, string> | undefined) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec: { selector: { app: name }, ports: [{ port: 80 }] },
  };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(fake?: FakeKubeApi) {
  const api = fake ?? new FakeKubeApi();
  if (!fake) {
    await api.start();
    cleanup.push(() => api.stop());
  }
  const reconciler = await startReconciler(api);
  return { fake: api, reconciler };
}

async function startReconciler(fake: FakeKubeApi, extra: Partial<LiveOptions> = {}) {
  const api = createKubeApi(fake.connection());
  const reconciler = new LiveReconciler(api, {
    ...defaultOptions,
    namespaces: [],
    fieldManager: 'mesh-authz',
    authzNamespace: 'mesh-authz',
    configMapName: 'mesh-authz-generated',
    debounceMs: 5,
    resyncMs: 0,
    log: () => {},
    backoffMs: () => 20,
    ...extra,
  });
  reconciler.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await reconciler.stop();
  };
  cleanup.push(stop);
  return Object.assign(reconciler, { halt: stop });
}

describe('live reconciler against the stand-in API server', () => {
  it('applies owned policies with server-side apply, records Events, never touches unowned objects', async () => {
    const fake = new FakeKubeApi();
    await fake.start();
    cleanup.push(() => fake.stop());
    fake.put(service('orders', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/frontend' }));
    fake.put(
      service('ledger', 'finance', {
        'authz.mesh-authz.io/allow-from': 'finance/web',
        'authz.mesh-authz.io/allow-groups': 'accountants',
      }),
    );
    fake.put(service('broken', 'shop', { 'authz.mesh-authz.io/allow-from': 'Shop/x' }));
    fake.put(service('plain', 'shop', undefined));
    // Not ours: same name as what 'cart' would generate, without the ownership label.
    fake.put(service('cart', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/frontend' }));
    const unowned = {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'mesh-authz-cart', namespace: 'shop' },
      spec: { selector: { matchLabels: { app: 'cart' } }, rules: [{}] },
    };
    fake.put(unowned);
    const { reconciler } = await setup(fake);
    await until(() => reconciler.ready, 'first pass');

    const orders = fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-orders');
    expect(orders?.metadata['labels']).toMatchObject(MANAGED);
    expect(orders?.['spec']).toEqual({
      selector: { matchLabels: { app: 'orders' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/frontend'] } }] }],
    });
    expect(fake.managersOf('AuthorizationPolicy', 'shop', 'mesh-authz-orders')).toEqual(['mesh-authz']);
    const applies = fake.requests.filter((r) => r.method === 'PATCH');
    expect(applies.length).toBeGreaterThan(0);
    for (const r of applies) {
      expect(r.contentType).toMatch(/^application\/apply-patch\+yaml/);
      expect(r.query['fieldManager']).toBe('mesh-authz');
    }
    // Groups without a RequestAuthentication: CUSTOM delegation + the server policy in the ConfigMap.
    expect(fake.get('AuthorizationPolicy', 'finance', 'mesh-authz-ledger-custom')?.['spec']).toMatchObject({
      action: 'CUSTOM',
      provider: { name: 'mesh-authz' },
    });
    const cm = fake.get('ConfigMap', 'mesh-authz', 'mesh-authz-generated');
    expect(Object.keys((cm?.['data'] ?? {}) as object)).toEqual(['finance.mesh-authz-ledger-server.yaml']);
    // Invalid annotations: no policy, a Warning Event on the Service with the reason.
    expect(fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-broken')).toBeUndefined();
    const events = fake.list('Event');
    const broken = events.find((e) => (e['involvedObject'] as { name: string }).name === 'broken');
    expect(broken).toMatchObject({ type: 'Warning', reason: 'InvalidAuthzAnnotation' });
    expect(String(broken?.['message'])).toContain("'Shop' is not a namespace name");
    // The unowned policy is exactly as it was, and the conflict is reported on the Service.
    const cart = fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-cart');
    expect(cart?.['spec']).toEqual(unowned.spec);
    expect(fake.managersOf('AuthorizationPolicy', 'shop', 'mesh-authz-cart')).toEqual(['kubectl']);
    expect(events.find((e) => (e['involvedObject'] as { name: string }).name === 'cart')?.['reason']).toBe(
      'PolicyNameConflict',
    );
    expect(fake.requests.some((r) => r.method === 'DELETE' && r.path.endsWith('/mesh-authz-cart'))).toBe(false);
    // Nothing for the unannotated Service.
    expect(
      fake
        .list('AuthorizationPolicy')
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['mesh-authz-cart', 'mesh-authz-ledger', 'mesh-authz-ledger-custom', 'mesh-authz-orders']);
  });

  it('follows changes: update, broken annotations keep the last good policy, unannotate and delete prune', async () => {
    const { fake, reconciler } = await setup();
    fake.put(service('orders', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/frontend' }));
    fake.put(service('cart', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/frontend' }));
    await until(() => fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-cart') !== undefined, 'cart applied');

    fake.put(
      service('orders', 'shop', {
        'authz.mesh-authz.io/allow-from': 'shop/frontend',
        'authz.mesh-authz.io/allow-methods': 'GET',
      }),
    );
    await until(
      () =>
        String(JSON.stringify(fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-orders')?.['spec'])).includes('GET'),
      'orders updated',
    );

    // A typo must not open the workload: the last good policy stays, and an Event says why.
    fake.put(
      service('orders', 'shop', {
        'authz.mesh-authz.io/allow-from': 'shop/frontend',
        'authz.mesh-authz.io/allow-methods': 'get',
      }),
    );
    await until(() => fake.list('Event').some((e) => String(e['message']).includes("write 'GET'")), 'event');
    expect(JSON.stringify(fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-orders')?.['spec'])).toContain('GET');

    fake.put(service('orders', 'shop', undefined));
    await until(() => fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-orders') === undefined, 'unannotated pruned');
    fake.remove('Service', 'shop', 'cart');
    await until(() => fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-cart') === undefined, 'deleted pruned');
    expect(reconciler.metrics.pruned.get).toBeDefined();
  });

  it('re-lists when the watch expires (410 Gone) and still sees changes made meanwhile', async () => {
    const { fake, reconciler } = await setup();
    fake.put(service('a', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/x' }));
    await until(() => fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-a') !== undefined, 'a applied');
    // History is compacted and watches end; a change lands before the reconciler re-watches.
    fake.expireWatches();
    fake.put(service('b', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/x' }));
    await until(() => fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-b') !== undefined, 'b applied after expiry');
    const metrics = await reconciler.metrics.registry.metrics();
    expect(metrics).toMatch(/mesh_authz_reconcile_watch_restarts_total\{resource="services",reason="expired"\} [1-9]/);
    // A watch resumed from the compacted resourceVersion got the ERROR/410 event and re-listed.
    const lists = fake.requests.filter((r) => r.path === '/api/v1/services' && r.query['watch'] === undefined);
    expect(lists.length).toBeGreaterThanOrEqual(2);
  });

  it('survives an API server restart', async () => {
    const { fake, reconciler } = await setup();
    fake.put(service('a', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/x' }));
    await until(() => fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-a') !== undefined, 'a applied');
    const port = new URL(fake.url).port;
    await fake.stop();
    // Changes made while the API server is away (restored from storage when it comes back).
    fake.remove('Service', 'shop', 'a');
    fake.put(service('c', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/x' }));
    await new Promise((r) => setTimeout(r, 50));
    await fake.start(Number(port));
    await until(
      () =>
        fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-c') !== undefined &&
        fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-a') === undefined,
      'state converged after restart',
    );
    expect(await reconciler.metrics.registry.metrics()).toMatch(/reason="error"\} [1-9]/);
  });

  it('prunes the policy of a Service deleted while the reconciler was down', async () => {
    const { fake, reconciler } = await setup();
    fake.put(service('gone', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/x' }));
    fake.put(service('kept', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/x' }));
    await until(() => fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-gone') !== undefined, 'applied');
    await (reconciler as Awaited<ReturnType<typeof startReconciler>>).halt();
    fake.remove('Service', 'shop', 'gone');
    const next = await startReconciler(fake);
    await until(() => next.ready, 'second reconciler synced');
    expect(fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-gone')).toBeUndefined();
    expect(fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-kept')).toBeDefined();
  });

  it('takes back a hand-edited owned policy and serves health and metrics', async () => {
    const { fake, reconciler } = await setup();
    fake.put(service('a', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/x' }));
    await until(() => fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-a') !== undefined, 'applied');
    const ours = fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-a')!;
    fake.put({ ...structuredClone(ours), spec: { selector: { matchLabels: { app: 'a' } }, rules: [{}] } });
    await reconciler.reconcile();
    expect(fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-a')?.['spec']).toEqual(ours['spec']);

    const health = await startHealthServer(reconciler, '127.0.0.1', 0);
    cleanup.push(() => health.close());
    const base = `http://127.0.0.1:${health.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('mesh_authz_reconcile_applied_total{kind="AuthorizationPolicy"}');
    expect(metrics).toContain('mesh_authz_reconcile_runs_total{result="ok"}');
  });
});

describe('live mode plumbing', () => {
  it('only watches the selected namespaces', async () => {
    const fake = new FakeKubeApi();
    await fake.start();
    cleanup.push(() => fake.stop());
    fake.put(service('a', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/x' }));
    fake.put(service('b', 'other', { 'authz.mesh-authz.io/allow-from': 'shop/x' }));
    const reconciler = await startReconciler(fake, { namespaces: ['shop'] });
    await until(() => reconciler.ready, 'synced');
    expect(fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-a')).toBeDefined();
    expect(fake.get('AuthorizationPolicy', 'other', 'mesh-authz-b')).toBeUndefined();
    expect(fake.requests.some((r) => r.path === '/api/v1/namespaces/shop/services')).toBe(true);
    expect(fake.requests.some((r) => r.path === '/api/v1/services')).toBe(false);
  });

  it('sees a mesh-wide RequestAuthentication in the root namespace even when watching selected namespaces', async () => {
    const fake = new FakeKubeApi();
    await fake.start();
    cleanup.push(() => fake.stop());
    fake.put({
      apiVersion: 'security.istio.io/v1',
      kind: 'RequestAuthentication',
      metadata: { name: 'mesh-jwt', namespace: 'istio-system' },
      spec: { jwtRules: [{ issuer: 'https://idp.example.com' }] },
    });
    fake.put(
      service('a', 'shop', { 'authz.mesh-authz.io/allow-from': 'shop/x', 'authz.mesh-authz.io/allow-groups': 'g' }),
    );
    const reconciler = await startReconciler(fake, { namespaces: ['shop'] });
    await until(() => reconciler.ready, 'synced');
    // Envoy verifies the JWT, so the group check is in the mesh ALLOW and nothing is delegated.
    expect(JSON.stringify(fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-a')?.['spec'])).toContain(
      'request.auth.claims[groups]',
    );
    expect(fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-a-custom')).toBeUndefined();
  });

  it('connects with a kubeconfig file (token auth, CA data) and verifies the server certificate', async () => {
    const fake = new FakeKubeApi();
    await fake.start();
    cleanup.push(() => fake.stop());
    fake.put(service('a', 'shop', undefined));
    const dir = mkdtempSync(join(tmpdir(), 'mesh-authz-kubeconfig-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'config');
    writeFileSync(file, stringify(fake.kubeconfig('s3cret')));
    const conn = loadKubeConnection(file);
    expect(conn).toEqual({ server: fake.url, token: 's3cret', ca: fake.ca });
    const api = createKubeApi(conn);
    const list = await api.list(Resources.service, 'shop');
    expect(list.items.map((i) => i.metadata?.name)).toEqual(['a']);
    expect(Number(list.resourceVersion)).toBeGreaterThan(0);
    expect(fake.requests.at(-1)?.authorization).toBe('Bearer s3cret');
    // A rotated token file (as the kubelet rotates projected service account tokens) is picked up.
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'first\n');
    const rotating = createKubeApi({ server: fake.url, ca: fake.ca, tokenFile });
    await rotating.list(Resources.service, 'shop');
    expect(fake.requests.at(-1)?.authorization).toBe('Bearer first');
    writeFileSync(tokenFile, 'second-token\n');
    await rotating.list(Resources.service, 'shop');
    expect(fake.requests.at(-1)?.authorization).toBe('Bearer second-token');
    // Without the CA the stand-in's certificate is refused: TLS is verified, never skipped by default.
    const untrusted = createKubeApi({ server: fake.url, token: 's3cret' });
    const err = await untrusted.list(Resources.service, 'shop').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeError);
    expect(String((err as Error).message)).toMatch(/certificate/);
  });
});
