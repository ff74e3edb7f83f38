import { describe, expect, it } from 'vitest';
import { EVERYTHING, FakePolicySet, NOTHING, ORDERS, peer, request, user } from '../../test/cache/support.js';
import type { AttributeUse, EndUser, RequestAttributes } from '../policy/types.js';
import {
  buildKey,
  DEFAULT_KEY_LIMITS,
  IdentityTokens,
  isUncacheable,
  type KeyLimits,
  makeKeyPlan,
  workloadKey,
} from './cache-key.js';

/**
 * Unit spec of the decision cache key. The rule every test protects: two requests that differ in something a policy
 * reads never share a key (a shared key serves one request the other's decision).
 */

const planFor = (use: AttributeUse, generation = 1) =>
  makeKeyPlan(new FakePolicySet(generation, use, () => true), ORDERS, workloadKey(ORDERS));
const keyOf = (
  use: AttributeUse,
  r: RequestAttributes,
  tokens?: IdentityTokens,
  limits: KeyLimits = DEFAULT_KEY_LIMITS,
) => buildKey(planFor(use), r, limits, tokens);
const USER = { ...NOTHING, user: true };
const PEER = { ...NOTHING, peer: true };
const withIssuer = (u: EndUser, issuer: string): EndUser => ({ ...u, issuer, claims: { ...u.claims, iss: issuer } });

describe.each([
  ['with identity tokens', () => new IdentityTokens()],
  ['with identities written out', () => undefined],
])('cache keys for end users (%s)', (_name, tokens) => {
  it('a user identity without a token fingerprint is not cached at all (issuer + subject alone would merge tokens with different groups)', () => {
    const t = tokens();
    expect(keyOf(USER, request({ user: user('alice', ['admins'], undefined, '') }), t)).toBe(
      'identity_without_credential_id',
    );
    expect(keyOf(USER, request({ user: user('alice', ['readers'], undefined, '') }), t)).toBe(
      'identity_without_credential_id',
    );
  });

  it('a peer identity without a certificate fingerprint is not cached at all', () => {
    expect(keyOf(PEER, request({ peer: peer('frontend', undefined, '') }), tokens())).toBe(
      'identity_without_credential_id',
    );
  });

  it('tokens of the same subject with different groups (different fingerprints) get different keys', () => {
    const t = tokens();
    const admins = keyOf(USER, request({ user: user('alice', ['admins'], undefined, 'tok-1') }), t);
    const readers = keyOf(USER, request({ user: user('alice', ['readers'], undefined, 'tok-2') }), t);
    expect(admins).not.toBe(readers);
    expect(keyOf(USER, request({ user: user('alice', ['admins'], undefined, 'tok-1') }), t)).toBe(admins);
  });

  it('tokens from different issuers never share a key, even with the same fingerprint and subject', () => {
    const t = tokens();
    const a = user('alice', ['g'], undefined, 'tok-same');
    const first = keyOf(USER, request({ user: a }), t);
    const other = keyOf(USER, request({ user: withIssuer(a, 'https://other.example') }), t);
    expect(first).not.toBe(other);
    expect(keyOf(USER, request({ user: { ...a, subject: 'bob' } }), t)).not.toBe(first);
  });

  it('a request without a token and one with a token get different keys; identities not read are left out', () => {
    const t = tokens();
    expect(keyOf(USER, request({ user: null }), t)).not.toBe(keyOf(USER, request(), t));
    expect(keyOf(PEER, request({ peer: null }), t)).not.toBe(keyOf(PEER, request(), t));
    expect(keyOf(NOTHING, request({ user: null, peer: null }), t)).toBe(keyOf(NOTHING, request(), t));
  });

  it('peers with the same certificate fingerprint but different SPIFFE IDs get different keys', () => {
    const t = tokens();
    expect(keyOf(PEER, request({ peer: peer('a', undefined, 'cert-x') }), t)).not.toBe(
      keyOf(PEER, request({ peer: peer('b', undefined, 'cert-x') }), t),
    );
  });
});

describe('IdentityTokens', () => {
  it('the users table is cleared when full, so it never holds more than its bound', () => {
    const tokens = new IdentityTokens(3);
    for (let i = 0; i < 10; i++) {
      tokens.user(user(`u${i}`, ['g']));
      expect(tokens.size).toBeLessThanOrEqual(3);
    }
    expect(tokens.size).toBeGreaterThan(0);
  });

  it('the peers table is cleared when full, so it never holds more than its bound', () => {
    const tokens = new IdentityTokens(3);
    for (let i = 0; i < 10; i++) {
      tokens.peer(peer(`p${i}`));
      expect(tokens.size).toBeLessThanOrEqual(3);
    }
  });

  it('below the bound the tables keep every identity (repeats keep hitting the cache)', () => {
    const tokens = new IdentityTokens(3);
    const a = tokens.peer(peer('a'));
    tokens.peer(peer('b'));
    expect(tokens.peer(peer('a'))).toBe(a);
    const u = tokens.user(user('u', ['g']));
    tokens.user(user('v', ['g']));
    expect(tokens.user(user('u', ['g']))).toBe(u);
    expect(tokens.size).toBe(4);
  });

  it('a returning identity keeps its token; a different one never gets it', () => {
    const tokens = new IdentityTokens();
    const alice = tokens.user(user('alice', ['g']));
    expect(tokens.user(user('alice', ['g']))).toBe(alice);
    expect(tokens.user(user('bob', ['g']))).not.toBe(alice);
    const front = tokens.peer(peer('front'));
    expect(tokens.peer(peer('front'))).toBe(front);
    expect(front).not.toBe(alice);
  });
});

describe('buildKey', () => {
  // One request per attribute that differs from the base only there.
  const changes: ReadonlyArray<readonly [keyof AttributeUse, Partial<RequestAttributes>]> = [
    ['method', { method: 'POST' }],
    ['path', { path: '/other' }],
    ['host', { host: 'other' }],
    ['sourceIp', { sourceIp: '10.9.9.9' }],
    ['remoteIp', { remoteIp: '10.9.9.9' }],
    ['destinationIp', { destinationIp: '10.9.9.9' }],
    ['destinationPort', { destinationPort: 9 }],
    ['sni', { sni: 'other' }],
    ['peer', { peer: peer('other') }],
    ['user', { user: user('other', ['g']) }],
    ['metadata', { filterMetadata: { f: { k: 'v' } } }],
  ];

  it.each(changes)('a request differing in %s gets another key exactly when a policy reads it', (attr, change) => {
    const reads = { ...NOTHING, [attr]: true };
    expect(keyOf(reads, request(change))).not.toBe(keyOf(reads, request()));
    const others = { ...EVERYTHING, headers: [], [attr]: false };
    expect(keyOf(others, request(change))).toBe(keyOf(others, request()));
  });

  it('headers: read headers are in the key (absent differs from empty), others are not; names deduplicated', () => {
    const use = { ...NOTHING, headers: ['X-Role', 'x-role'] };
    const plan = planFor(use);
    expect(plan.headers).toEqual(['x-role']);
    const k = (headers: Record<string, string>) => buildKey(plan, request({ headers }), DEFAULT_KEY_LIMITS);
    expect(k({ 'x-role': 'a' })).not.toBe(k({ 'x-role': 'b' }));
    expect(k({})).not.toBe(k({ 'x-role': '' }));
    expect(k({ 'x-role': 'a', 'x-other': '1' })).toBe(k({ 'x-role': 'a', 'x-other': '2' }));
  });

  it('metadata above its limit and keys above theirs are not cached', () => {
    const limits = { maxKeyChars: 200, maxMetadataChars: 20 };
    const meta = { ...NOTHING, metadata: true };
    expect(keyOf(meta, request({ filterMetadata: { f: 'x'.repeat(30) } }), undefined, limits)).toBe(
      'metadata_too_large',
    );
    expect(isUncacheable(keyOf(meta, request({ filterMetadata: { f: 'x' } }), undefined, limits))).toBe(false);
    const path = { ...NOTHING, path: true };
    expect(keyOf(path, request({ path: `/${'a'.repeat(300)}` }), undefined, limits)).toBe('key_too_large');
    expect(isUncacheable(keyOf(path, request({ path: '/a' }), undefined, limits))).toBe(false);
  });

  it('metadata and keys exactly at their limits are still cached', () => {
    const meta = { ...NOTHING, metadata: true };
    const json = JSON.stringify({ f: 'xx' });
    const atLimit = { maxKeyChars: 10_000, maxMetadataChars: json.length };
    expect(isUncacheable(keyOf(meta, request({ filterMetadata: { f: 'xx' } }), undefined, atLimit))).toBe(false);
    expect(keyOf(meta, request({ filterMetadata: { f: 'xxx' } }), undefined, atLimit)).toBe('metadata_too_large');
    const path = { ...NOTHING, path: true };
    const key = keyOf(path, request({ path: '/a' }));
    const exact = { maxKeyChars: key.length, maxMetadataChars: 10 };
    expect(keyOf(path, request({ path: '/a' }), undefined, exact)).toBe(key);
    expect(keyOf(path, request({ path: '/ab' }), undefined, exact)).toBe('key_too_large');
  });

  it('keys of different generations and workloads differ', () => {
    const r = request();
    expect(buildKey(planFor(EVERYTHING, 1), r, DEFAULT_KEY_LIMITS)).not.toBe(
      buildKey(planFor(EVERYTHING, 2), r, DEFAULT_KEY_LIMITS),
    );
    const set = new FakePolicySet(1, EVERYTHING, () => true);
    const other = { namespace: 'shop', labels: { app: 'payments' } };
    expect(buildKey(makeKeyPlan(set, other, workloadKey(other)), r, DEFAULT_KEY_LIMITS)).not.toBe(
      buildKey(planFor(EVERYTHING), r, DEFAULT_KEY_LIMITS),
    );
  });
});

describe('workloadKey and isUncacheable', () => {
  it('workloadKey writes namespace and own labels, length-prefixed; inherited properties are ignored', () => {
    const labels = Object.create({ inherited: 'x' }) as Record<string, string>;
    labels.app = 'a';
    expect(workloadKey({ namespace: 'ns', labels })).toBe('2:ns3:app1:a');
    expect(workloadKey({ namespace: 'ns', labels: {} })).toBe('2:ns');
  });

  it('workloadKey: the targets a workload is addressed through are part of its key, each field of each target', () => {
    const svc = { group: '', kind: 'Service', name: 'orders', namespace: 'shop' };
    const base = { namespace: 'shop', labels: { app: 'orders' } };
    const k = (targets?: (typeof svc)[]) => workloadKey(targets === undefined ? base : { ...base, targets });
    expect(k([svc])).not.toBe(k());
    expect(k([])).toBe(k());
    for (const change of [{ group: 'g' }, { kind: 'Gateway' }, { name: 'other' }, { namespace: 'other' }]) {
      expect(k([{ ...svc, ...change }])).not.toBe(k([svc]));
    }
    expect(k([svc, { ...svc, name: 'b' }])).not.toBe(k([svc]));
    // Labels and targets are both runs of length-prefixed parts: the marker keeps two labels from reading as a target.
    const asLabels = workloadKey({ namespace: 'ns', labels: { a: 'b', c: 'd', e: 'f', g: 'h' } });
    const asTarget = workloadKey({
      namespace: 'ns',
      labels: { a: 'b', c: 'd' },
      targets: [{ group: 'e', kind: 'f', namespace: 'g', name: 'h' }],
    });
    expect(asTarget).not.toBe(asLabels);
  });

  it('isUncacheable tells reasons from keys by the first character and the length', () => {
    expect(isUncacheable('identity_without_credential_id')).toBe(true);
    expect(isUncacheable('metadata_too_large')).toBe(true);
    expect(isUncacheable('0|key')).toBe(false);
    expect(isUncacheable('9|key')).toBe(false);
    expect(isUncacheable(`x${'a'.repeat(32)}`)).toBe(false);
    expect(isUncacheable(`x${'a'.repeat(31)}`)).toBe(true);
    expect(isUncacheable('/')).toBe(true);
    expect(isUncacheable(':')).toBe(true);
  });
});
