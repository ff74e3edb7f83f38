import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultOptions,
  defaultRetryMs,
  type KubeObject,
  type LiveOptions,
  LiveReconciler,
} from '../../src/reconciler/index.js';
import type { KubeApi } from '../../src/sources/kube/api.js';

/**
 * Live mode's pass loop: a failed pass backs off (it lists every AuthorizationPolicy and Namespace, so it must
 * not run at the debounce rate against a broken API server), and what it remembers about reported problems is
 * bounded by the Services in error. The API here is an in-memory stand-in of the KubeApi seam (no wire format:
 * that is covered by live.test.ts against the stand-in API server); it counts calls and fails applies on demand.
 */

class StandInKubeApi implements KubeApi {
  readonly objects = new Map<string, KubeObject>();
  failApplies = false;
  lists = 0;
  applies = 0;
  events: KubeObject[] = [];
  private rv = 1;
  private watchers: ((type: 'ADDED' | 'MODIFIED', obj: KubeObject) => void)[] = [];

  put(obj: KubeObject): void {
    const stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
    const existed = this.objects.has(this.key(obj));
    this.objects.set(this.key(obj), stored);
    for (const w of this.watchers) w(existed ? 'MODIFIED' : 'ADDED', stored);
  }
  private key(o: KubeObject): string {
    return `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  }
  async list(type: { kind: string }, namespace: string | null) {
    this.lists++;
    const items = [...this.objects.values()].filter(
      (o) => o.kind === type.kind && (namespace === null || o.metadata?.namespace === namespace),
    );
    return { items, resourceVersion: String(this.rv) };
  }
  async watch(
    type: { kind: string },
    _ns: string | null,
    _rv: string,
    onEvent: (t: 'ADDED' | 'MODIFIED', o: KubeObject) => void,
    done: (err: unknown) => void,
  ) {
    const w = (t: 'ADDED' | 'MODIFIED', o: KubeObject) => {
      if (o.kind === type.kind) onEvent(t, o);
    };
    this.watchers.push(w);
    return {
      abort: () => {
        this.watchers = this.watchers.filter((x) => x !== w);
        done(null);
      },
    };
  }
  async apply(obj: KubeObject): Promise<KubeObject> {
    this.applies++;
    if (this.failApplies) throw Object.assign(new Error('admission webhook denied the request'), { status: 500 });
    this.objects.set(this.key(obj), obj);
    return obj;
  }
  async delete(): Promise<void> {}
  async create(obj: KubeObject): Promise<KubeObject> {
    this.events.push(obj);
    return obj;
  }
}

const service = (name: string, from: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'shop', uid: `uid-${name}`, annotations: { 'authz.mesh-authz.io/allow-from': from } },
  spec: { selector: { app: name } },
});

let stop: (() => Promise<void>) | null = null;
afterEach(async () => {
  await stop?.();
  stop = null;
});

function start(api: StandInKubeApi, extra: Partial<LiveOptions>): LiveReconciler {
  const r = new LiveReconciler(api, {
    ...defaultOptions,
    namespaces: [],
    fieldManager: 'mesh-authz',
    authzNamespace: 'mesh-authz',
    configMapName: 'mesh-authz-generated',
    debounceMs: 1,
    resyncMs: 0,
    log: () => {},
    backoffMs: () => 10,
    ...extra,
  });
  r.start();
  stop = () => r.stop();
  return r;
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

describe('live reconciler pass loop', () => {
  it('backs off after failed passes, growing the delay, and resets after a success', async () => {
    const api = new StandInKubeApi();
    api.put(service('orders', 'shop/web'));
    api.failApplies = true;
    const asked: number[] = [];
    // Three quick retries, then a long one: the loop must wait for it instead of spinning at the debounce rate.
    const r = start(api, {
      retryMs: (n) => {
        asked.push(n);
        return n < 3 ? 1 : 3_600_000;
      },
    });
    await until(() => asked.length === 4, 'four failed passes');
    const passes = r.passes;
    // Events while backing off do not start passes either: the pending retry will see them.
    for (let i = 0; i < 20; i++) api.put(service(`other${i}`, 'shop/web'));
    await new Promise((res) => setTimeout(res, 50));
    expect(asked).toEqual([0, 1, 2, 3]);
    expect(r.passes).toBe(passes);
    expect(r.consecutiveFailures).toBe(4);
    expect(r.ready).toBe(false);
  });

  it('the default delay doubles from 1 s to a 60 s cap', () => {
    expect([0, 1, 2, 5, 6, 10, 100].map(defaultRetryMs)).toEqual([1000, 2000, 4000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('a success resets the back-off', async () => {
    const api = new StandInKubeApi();
    api.put(service('orders', 'shop/web'));
    api.failApplies = true;
    const asked: number[] = [];
    const r = start(api, {
      retryMs: (n) => {
        asked.push(n);
        return 1;
      },
    });
    await until(() => asked.length >= 2, 'two failed passes');
    api.failApplies = false;
    await until(() => r.ready, 'a good pass');
    expect(r.consecutiveFailures).toBe(0);
  });

  it('remembers reported problems per Service: bounded by the Services in error, forgotten when fixed', async () => {
    const api = new StandInKubeApi();
    api.put(service('orders', 'Shop/bad0'));
    const r = start(api, {});
    await until(() => api.events.length === 1, 'first Event');
    for (let i = 1; i <= 30; i++) {
      api.put(service('orders', `Shop/bad${i}`));
      await until(() => api.events.length === i + 1, `Event ${i + 1}`);
    }
    expect(r.reportedCount).toBe(1);
    api.put(service('orders', 'shop/web'));
    await until(() => r.reportedCount === 0, 'fixed Service forgotten');
  });

  it('colliding Services: neither object is applied, both get a PolicyNameConflict Event, no flip-flop', async () => {
    const api = new StandInKubeApi();
    const card = service('card', 'shop/web');
    card.metadata!.annotations!['authz.mesh-authz.io/allow-groups'] = 'cardholders';
    api.put(card);
    api.put(service('card-custom', 'shop/web'));
    api.put(service('orders', 'shop/web'));
    const r = start(api, {});
    await until(() => r.ready && api.events.length === 2, 'first pass with two Events');
    const applied = [...api.objects.keys()].filter((k) => k.startsWith('AuthorizationPolicy/')).sort();
    expect(applied).toEqual(['AuthorizationPolicy/shop/mesh-authz-orders']);
    expect(api.events.map((e) => (e as { reason?: string }).reason)).toEqual([
      'PolicyNameConflict',
      'PolicyNameConflict',
    ]);
    const applies = api.applies;
    await r.reconcile();
    await r.reconcile();
    // Further passes apply nothing: no object flips between the two Services.
    expect(api.applies).toBe(applies);
  });
});
