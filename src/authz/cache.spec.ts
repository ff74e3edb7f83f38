import { describe, expect, it } from 'vitest';
import {
  decision,
  EVERYTHING,
  FakePolicySet,
  NOTHING,
  ORDERS,
  peer,
  request,
  T0,
  user,
} from '../../test/cache/support.js';
import type { AttributeUse, RequestAttributes } from '../policy/types.js';
import { createDecisionCache, LruDecisionCache } from './cache.js';
import { buildKey, DEFAULT_KEY_LIMITS, makeKeyPlan, workloadKey } from './cache-key.js';

function cacheAt(clock: { now: number }, over: Partial<ConstructorParameters<typeof LruDecisionCache>[0]> = {}) {
  return new LruDecisionCache({ maxEntries: 1000, maxBytes: 1 << 20, ttlMs: 60_000, now: () => clock.now, ...over });
}

const allowAll = () => true;

describe('LruDecisionCache', () => {
  it('serves a stored decision for the same request and counts hits and misses', () => {
    const clock = { now: T0 };
    const cache = cacheAt(clock);
    const set = new FakePolicySet(1, EVERYTHING, allowAll);
    const req = request();
    expect(cache.get(set, ORDERS, req)).toBeUndefined();
    const d = decision(true, 'ok');
    cache.set(set, ORDERS, req, d);
    expect(cache.get(set, ORDERS, request())).toBe(d);
    // The first policy set is adopted, not a retirement of an earlier one.
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, sets: 1, entries: 1, generation: 1, retirements: 0 });
    expect(cache.stats().bytes).toBeGreaterThan(0);
  });

  it('shares an entry between requests that differ only in attributes no policy reads', () => {
    const cache = cacheAt({ now: T0 });
    const set = new FakePolicySet(1, { ...NOTHING, path: true }, allowAll);
    const d = decision(true, 'ok');
    cache.set(set, ORDERS, request({ method: 'GET', peer: peer('a') }), d);
    expect(cache.get(set, ORDERS, request({ method: 'POST', peer: peer('b'), headers: {} }))).toBe(d);
  });

  it('keeps requests apart that differ in any single attribute a policy reads', () => {
    const mutations: Array<[string, Partial<RequestAttributes>]> = [
      ['method', { method: 'POST' }],
      ['path', { path: '/api/orders?limit=6' }],
      ['host', { host: 'orders.shop.svc' }],
      ['sourceIp', { sourceIp: '10.0.0.9' }],
      ['remoteIp', { remoteIp: '10.0.0.9' }],
      ['destinationIp', { destinationIp: '10.0.0.9' }],
      ['destinationPort', { destinationPort: 8081 }],
      ['sni', { sni: 'other' }],
      ['peer', { peer: peer('attacker') }],
      ['peer absent', { peer: null }],
      ['peer same id, other cert', { peer: peer('frontend', T0 + 3_600_000, 'cert-other') }],
      ['user', { user: user('mallory', ['shoppers']) }],
      ['user absent', { user: null }],
      ['user same subject, other token', { user: user('alice', ['admins'], T0 + 600_000, 'tok-2') }],
      ['header value', { headers: { 'x-role': 'admin' } }],
      ['header absent', { headers: {} }],
      ['header empty', { headers: { 'x-role': '' } }],
      ['second header', { headers: { 'x-role': 'reader', 'x-tenant': 't1' } }],
      ['metadata', { filterMetadata: { 'envoy.filters.http.rbac': { x: 1 } } }],
    ];
    const cache = cacheAt({ now: T0 });
    const set = new FakePolicySet(1, EVERYTHING, allowAll);
    cache.set(set, ORDERS, request(), decision(true, 'base'));
    for (const [name, change] of mutations) {
      expect(cache.get(set, ORDERS, request(change)), name).toBeUndefined();
    }
    expect(cache.stats().hits).toBe(0);
  });

  it('keeps workloads apart (namespace and labels)', () => {
    const cache = cacheAt({ now: T0 });
    const set = new FakePolicySet(1, NOTHING, allowAll);
    cache.set(set, ORDERS, request(), decision(true, 'orders'));
    expect(cache.get(set, { namespace: 'shop', labels: { app: 'payments' } }, request())).toBeUndefined();
    expect(cache.get(set, { namespace: 'other', labels: { app: 'orders' } }, request())).toBeUndefined();
    expect(cache.get(set, { namespace: 'shop', labels: {} }, request())).toBeUndefined();
    expect(cache.get(set, { namespace: 'shop', labels: { app: 'orders' } }, request())).toBeDefined();
  });

  it('retires every entry when a newer policy generation arrives, and ignores checks on an older one', () => {
    const cache = cacheAt({ now: T0 });
    const gen1 = new FakePolicySet(1, EVERYTHING, allowAll);
    const gen2 = new FakePolicySet(2, EVERYTHING, () => false);
    cache.set(gen1, ORDERS, request(), decision(true, 'gen1'));
    expect(cache.get(gen2, ORDERS, request())).toBeUndefined();
    expect(cache.stats()).toMatchObject({ entries: 0, retirements: 1, generation: 2 });
    // A check that began before the reload finishes on gen1: it must neither store nor read.
    cache.set(gen1, ORDERS, request(), decision(true, 'late gen1'));
    expect(cache.get(gen1, ORDERS, request())).toBeUndefined();
    expect(cache.get(gen2, ORDERS, request())).toBeUndefined();
    expect(cache.stats()).toMatchObject({ stale: 2, misses: 3 });
  });

  it('never serves across two different sets with the same generation', () => {
    const cache = cacheAt({ now: T0 });
    const a = new FakePolicySet(3, EVERYTHING, allowAll);
    const b = new FakePolicySet(3, EVERYTHING, allowAll);
    cache.set(a, ORDERS, request(), decision(true, 'a'));
    expect(cache.get(b, ORDERS, request())).toBeUndefined();
  });

  it('expires entries after the TTL', () => {
    const clock = { now: T0 };
    const cache = cacheAt(clock, { ttlMs: 1000 });
    const set = new FakePolicySet(1, NOTHING, allowAll);
    cache.set(set, ORDERS, request({ peer: null, user: null }), decision(true, 'ok'));
    clock.now = T0 + 999;
    expect(cache.get(set, ORDERS, request())).toBeDefined();
    clock.now = T0 + 1000;
    expect(cache.get(set, ORDERS, request())).toBeUndefined();
    // An expired entry is removed, which is not an eviction (evictions count entries pushed out by the bounds).
    expect(cache.stats()).toMatchObject({ expired: 1, entries: 0, evictions: 0 });
  });

  it('never lets an entry outlive the peer certificate or the user token it was computed for', () => {
    const clock = { now: T0 };
    const cache = cacheAt(clock, { ttlMs: 3_600_000 });
    const set = new FakePolicySet(1, EVERYTHING, allowAll);
    const req = request({ peer: peer('frontend', T0 + 5000), user: user('alice', ['g'], T0 + 2000) });
    cache.set(set, ORDERS, req, decision(true, 'ok'));
    clock.now = T0 + 1999;
    expect(cache.get(set, ORDERS, req)).toBeDefined();
    clock.now = T0 + 2000;
    expect(cache.get(set, ORDERS, req)).toBeUndefined();

    const req2 = request({ peer: peer('frontend', T0 + 5000), user: null });
    cache.set(set, ORDERS, req2, decision(true, 'ok'));
    clock.now = T0 + 4999;
    expect(cache.get(set, ORDERS, req2)).toBeDefined();
    clock.now = T0 + 5000;
    expect(cache.get(set, ORDERS, req2)).toBeUndefined();
  });

  it('an identity valid for longer than the TTL does not stretch the entry past the TTL', () => {
    const clock = { now: T0 };
    const cache = cacheAt(clock, { ttlMs: 1000 });
    const set = new FakePolicySet(1, EVERYTHING, allowAll);
    const req = request({ peer: peer('frontend', T0 + 5000), user: user('alice', ['g'], T0 + 5000) });
    cache.set(set, ORDERS, req, decision(true, 'ok'));
    clock.now = T0 + 999;
    expect(cache.get(set, ORDERS, req)).toBeDefined();
    clock.now = T0 + 1000;
    expect(cache.get(set, ORDERS, req)).toBeUndefined();
  });

  it('decide() on an older generation after a reload: decided by that set, neither read from nor written to', () => {
    const cache = cacheAt({ now: T0 });
    const gen1 = new FakePolicySet(1, EVERYTHING, allowAll);
    const gen2 = new FakePolicySet(2, EVERYTHING, () => false);
    expect(cache.decide(gen2, ORDERS, request()).decision.allowed).toBe(false);
    const late = cache.decide(gen1, ORDERS, request());
    expect(late).toMatchObject({ hit: false, decision: { allowed: true } });
    expect(gen1.evaluations).toBe(1);
    expect(cache.stats()).toMatchObject({ stale: 1, misses: 2, entries: 1, generation: 2 });
    // gen2's entry is untouched by the late check, and gen1's answer was not stored under gen2.
    expect(cache.decide(gen2, ORDERS, request())).toMatchObject({ hit: true, decision: { allowed: false } });
  });

  it('a plain miss is a miss, not an expiry; a fresh cache reports no generation', () => {
    const cache = cacheAt({ now: T0 });
    expect(cache.stats().generation).toBe(-1);
    expect(cache.get(new FakePolicySet(1, EVERYTHING, allowAll), ORDERS, request())).toBeUndefined();
    expect(cache.stats()).toMatchObject({ misses: 1, expired: 0 });
  });

  it('does not store a decision for an identity that has already expired', () => {
    const clock = { now: T0 };
    const cache = cacheAt(clock);
    const set = new FakePolicySet(1, EVERYTHING, allowAll);
    cache.set(set, ORDERS, request({ peer: peer('frontend', T0) }), decision(true, 'ok'));
    expect(cache.stats().entries).toBe(0);
  });

  it('refuses to key an identity without a credential fingerprint', () => {
    const cache = cacheAt({ now: T0 });
    const set = new FakePolicySet(1, EVERYTHING, allowAll);
    const req = request({ peer: peer('frontend', T0 + 1000, '') });
    expect(cache.decide(set, ORDERS, req).hit).toBe(false);
    expect(cache.decide(set, ORDERS, req).hit).toBe(false);
    expect(cache.stats()).toMatchObject({ entries: 0, uncacheable: 2, misses: 2 });
    expect(cache.uncacheableReasons().get('identity_without_credential_id')).toBe(2);
  });

  it('decide(): a miss evaluates and stores, the same request then hits with the stored decision', () => {
    const cache = cacheAt({ now: T0 });
    const set = new FakePolicySet(1, EVERYTHING, allowAll);
    const req = request({ peer: peer('frontend', T0 + 60_000) });
    const first = cache.decide(set, ORDERS, req);
    expect(first.hit).toBe(false);
    const second = cache.decide(set, ORDERS, req);
    expect(second).toEqual({ decision: first.decision, hit: true });
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, sets: 1, entries: 1 });
  });

  it('decide(): workloads with the same labels but different targets never share a decision', () => {
    const cache = cacheAt({ now: T0 });
    const set = new FakePolicySet(1, EVERYTHING, allowAll);
    const req = request({ peer: peer('frontend', T0 + 60_000) });
    const viaGateway = { ...ORDERS, targets: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }] };
    expect(cache.decide(set, ORDERS, req).hit).toBe(false);
    expect(cache.decide(set, viaGateway, req).hit).toBe(false);
    expect(cache.decide(set, viaGateway, req).hit).toBe(true);
  });

  it('is bounded by entry count and by bytes', () => {
    const set = new FakePolicySet(1, { ...NOTHING, path: true }, allowAll);
    const byCount = cacheAt({ now: T0 }, { maxEntries: 10 });
    for (let i = 0; i < 50; i++) byCount.set(set, ORDERS, request({ path: `/p/${i}` }), decision(true, 'ok'));
    expect(byCount.stats()).toMatchObject({ entries: 10, evictions: 40 });
    expect(byCount.get(set, ORDERS, request({ path: '/p/49' }))).toBeDefined();
    expect(byCount.get(set, ORDERS, request({ path: '/p/0' }))).toBeUndefined();

    const byBytes = cacheAt({ now: T0 }, { maxBytes: 4096 });
    for (let i = 0; i < 200; i++) byBytes.set(set, ORDERS, request({ path: `/p/${i}` }), decision(true, 'ok'));
    expect(byBytes.stats().bytes).toBeLessThanOrEqual(4096);
    expect(byBytes.stats().entries).toBeLessThan(200);
  });

  it('does not cache huge keys', () => {
    const cache = cacheAt({ now: T0 }, { limits: { maxKeyChars: 100, maxMetadataChars: 10 } });
    const set = new FakePolicySet(1, { ...NOTHING, path: true }, allowAll);
    cache.set(set, ORDERS, request({ path: `/${'a'.repeat(200)}` }), decision(true, 'ok'));
    expect(cache.stats()).toMatchObject({ entries: 0, uncacheable: 1 });
  });

  it('is built from config.cache, or absent when switched off', () => {
    expect(createDecisionCache({ enabled: false, maxEntries: 1, maxBytes: 1, ttlSeconds: 1 })).toBeNull();
    expect(createDecisionCache({ enabled: true, maxEntries: 10, maxBytes: 1000, ttlSeconds: 1 })).toBeInstanceOf(
      LruDecisionCache,
    );
  });

  it('reads config.cache.ttlSeconds as seconds', () => {
    const clock = { now: T0 };
    const cache = createDecisionCache(
      { enabled: true, maxEntries: 10, maxBytes: 1 << 20, ttlSeconds: 60 },
      { now: () => clock.now },
    );
    const set = new FakePolicySet(1, NOTHING, allowAll);
    cache?.set(set, ORDERS, request(), decision(true, 'ok'));
    clock.now = T0 + 59_999;
    expect(cache?.get(set, ORDERS, request())).toBeDefined();
    clock.now = T0 + 60_000;
    expect(cache?.get(set, ORDERS, request())).toBeUndefined();
  });
});

describe('cache keys', () => {
  const use: AttributeUse = { ...NOTHING, method: true, path: true, host: true, headers: ['x-a', 'X-A', 'x-b'] };
  const set = new FakePolicySet(7, use, allowAll);
  const key = (r: RequestAttributes) => buildKey(makeKeyPlan(set, ORDERS, workloadKey(ORDERS)), r, DEFAULT_KEY_LIMITS);

  it('length-prefixes every part so separators inside values cannot make two tuples collide', () => {
    const a = key(request({ method: 'GET', path: '/x3:abc', host: 'h', headers: {} }));
    const b = key(request({ method: 'GET', path: '/x', host: 'abc3:h', headers: {} }));
    expect(a).not.toBe(b);
    const c = key(request({ headers: { 'x-a': '~' } }));
    const d = key(request({ headers: { 'x-b': '~' } }));
    expect(c).not.toBe(d);
  });

  it('reads a header named like an Object.prototype member as absent', () => {
    const s = new FakePolicySet(1, { ...NOTHING, headers: ['constructor'] }, allowAll);
    const plan = makeKeyPlan(s, ORDERS, workloadKey(ORDERS));
    const absent = buildKey(plan, request({ headers: {} }), DEFAULT_KEY_LIMITS);
    const present = buildKey(plan, request({ headers: { constructor: 'x' } }), DEFAULT_KEY_LIMITS);
    expect(absent).not.toBe(present);
    expect(absent.endsWith('~')).toBe(true);
  });

  it('starts with the generation and the workload', () => {
    expect(key(request())).toMatch(/^7\|/);
    expect(workloadKey({ namespace: 'ns', labels: { a: 'b' } })).toBe('2:ns1:a1:b');
  });
});
