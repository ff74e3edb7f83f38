import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildKey, DEFAULT_KEY_LIMITS, IdentityTokens, makeKeyPlan, workloadKey } from '../../src/authz/cache-key.js';
import type { AttributeUse, RequestAttributes } from '../../src/policy/types.js';
import { propertyRuns } from '../support/property-runs.js';
import { EVERYTHING, FakePolicySet, ORDERS, peer, request, user } from './support.js';

/**
 * Property: for any set of read attributes, two requests get the same cache key exactly when every attribute a
 * policy reads is equal. "Same key ⇒ equal reads" is the security half (no decision served to a request that
 * differs in something a policy looks at); the converse is the usefulness half (repeats do hit).
 */

// Small alphabets with the characters an encoding could trip on (separators, digits, colons, markers).
// Tiny alphabets make colliding concatenations likely, so a non-injective encoding is found quickly.
const text = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', '1', ':'), maxLength: 3 }),
  fc.string({ unit: fc.constantFrom('a', '1', ':', '|', '~', '-', '\u0000', '/'), maxLength: 4 }),
);
// The last of each: a weak verifier's fingerprint shared by two different identities (the key must still part them).
const peers = [null, peer('a'), peer('b'), peer('a', 1e15, 'cert-a2'), peer('c', 1e15, 'cert-a')];
const users = [
  null,
  user('u', ['g']),
  user('v', ['g']),
  user('u', ['h'], 1e15, 'tok-u2'),
  user('w', ['g'], 1e15, 'tok-u'),
];

const use = fc.record<AttributeUse>({
  method: fc.boolean(),
  path: fc.boolean(),
  host: fc.boolean(),
  sourceIp: fc.boolean(),
  remoteIp: fc.boolean(),
  destinationIp: fc.boolean(),
  destinationPort: fc.boolean(),
  sni: fc.boolean(),
  peer: fc.boolean(),
  user: fc.boolean(),
  headers: fc.subarray(['h1', 'h2', 'h3']),
  metadata: fc.boolean(),
});

const attrs = fc
  .record({
    method: text,
    path: text,
    host: text,
    sourceIp: text,
    remoteIp: text,
    destinationIp: text,
    destinationPort: fc.integer({ min: 0, max: 3 }),
    sni: text,
    peer: fc.integer({ min: 0, max: peers.length - 1 }),
    user: fc.integer({ min: 0, max: users.length - 1 }),
    headers: fc.dictionary(fc.constantFrom('h1', 'h2', 'h3', 'h4'), text),
    meta: fc.option(text, { nil: undefined }),
  })
  .map(
    (r): RequestAttributes =>
      request({
        ...r,
        peer: peers[r.peer]!,
        user: users[r.user]!,
        filterMetadata: r.meta === undefined ? {} : { f: { k: r.meta } },
      }),
  );

function readsEqual(u: AttributeUse, a: RequestAttributes, b: RequestAttributes): boolean {
  const scalar = ['method', 'path', 'host', 'sourceIp', 'remoteIp', 'destinationIp', 'destinationPort', 'sni'] as const;
  for (const k of scalar) if (u[k] && a[k] !== b[k]) return false;
  if (u.peer && a.peer !== b.peer) return false;
  if (u.user && a.user !== b.user) return false;
  for (const h of u.headers) if (a.headers[h] !== b.headers[h]) return false;
  if (u.metadata && JSON.stringify(a.filterMetadata) !== JSON.stringify(b.filterMetadata)) return false;
  return true;
}

describe('cache key property', () => {
  // The cache writes identities as IdentityTokens, shared by every key it builds; without, as their parts.
  it.each([
    ['identity parts', null],
    ['identity tokens', 65_536],
    ['identity tokens, a table that keeps starting over', 2],
  ])('two requests share a key exactly when every attribute a policy reads is equal (%s)', (_name, tableSize) => {
    const tokens = tableSize === null ? undefined : new IdentityTokens(tableSize);
    fc.assert(
      fc.property(use, attrs, attrs, fc.boolean(), (u, a, b0, copy) => {
        // Half the time make b a near-copy of a, so equal-read pairs are common too.
        // Half the time b is a copy of a with two neighbouring parts redrawn: equal-read pairs and near-collisions
        // (one part's tail moved into the next) both become common.
        const b = copy ? { ...a, path: b0.path, host: b0.host, headers: { ...a.headers, h4: 'x' } } : b0;
        const set = new FakePolicySet(1, u, () => true);
        const plan = makeKeyPlan(set, ORDERS, workloadKey(ORDERS));
        const ka = buildKey(plan, a, DEFAULT_KEY_LIMITS, tokens);
        const kb = buildKey(plan, b, DEFAULT_KEY_LIMITS, tokens);
        // A table that starts over hands out new tokens, so equal reads may then miss; the security half always holds.
        if (ka === kb || tableSize !== 2) expect(ka === kb).toBe(readsEqual(u, a, b));
      }),
      propertyRuns(3000),
    );
  });

  it('moving characters from one read part into the next always changes the key', () => {
    // The classic ambiguity attack on concatenated keys: ("/a:b", "c") vs ("/a", "b:c") or a header value that
    // swallows the next part. Every adjacent pair of string parts, every split point.
    const parts = ['method', 'path', 'host', 'sourceIp', 'remoteIp', 'destinationIp', 'sni'] as const;
    const all: AttributeUse = { ...EVERYTHING, headers: ['h1', 'h2'], metadata: false };
    const plan = makeKeyPlan(new FakePolicySet(1, all, () => true), ORDERS, workloadKey(ORDERS));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: parts.length }),
        fc.string({ unit: fc.constantFrom('a', '1', ':', '~', '|'), maxLength: 6 }),
        fc.nat(),
        fc.nat(),
        (i, joined, cutA, cutB) => {
          const a = cutA % (joined.length + 1);
          const b = cutB % (joined.length + 1);
          fc.pre(a !== b);
          const split = (cut: number): RequestAttributes => {
            const left = joined.slice(0, cut);
            const right = joined.slice(cut);
            // i === parts.length: the two headers are the adjacent pair.
            if (i === parts.length) return request({ headers: { h1: left, h2: right } });
            const next = parts[i + 1];
            return request(
              next === undefined ? { [parts[i]!]: left, headers: { h1: right } } : { [parts[i]!]: left, [next]: right },
            );
          };
          expect(buildKey(plan, split(a), DEFAULT_KEY_LIMITS)).not.toBe(buildKey(plan, split(b), DEFAULT_KEY_LIMITS));
        },
      ),
      propertyRuns(2000),
    );
  });
});

describe('identity tokens', () => {
  const all: AttributeUse = { ...EVERYTHING, headers: [], metadata: false };
  const plan = makeKeyPlan(new FakePolicySet(1, all, () => true), ORDERS, workloadKey(ORDERS));
  const keyOf = (tokens: IdentityTokens, p: RequestAttributes['peer'], u: RequestAttributes['user']) =>
    buildKey(plan, request({ peer: p, user: u }), DEFAULT_KEY_LIMITS, tokens);

  it('keeps two identities apart when a weak verifier gives them the same credential fingerprint', () => {
    const tokens = new IdentityTokens();
    // Same fingerprint, different SPIFFE ID / subject: if the token were looked up by fingerprint alone, the
    // second request would be served the first identity's decision.
    expect(keyOf(tokens, peer('a'), null)).not.toBe(keyOf(tokens, peer('c', 1e15, 'cert-a'), null));
    expect(keyOf(tokens, null, user('u', ['g']))).not.toBe(keyOf(tokens, null, user('w', ['g'], 1e15, 'tok-u')));
    // And each keeps its own key when it comes back.
    expect(keyOf(tokens, peer('a'), null)).toBe(keyOf(tokens, peer('a'), null));
  });

  it('never hands a number out twice, even after the table starts over', () => {
    const tokens = new IdentityTokens(2);
    const seen = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      const p = peer(`p${i % 7}`);
      const token = tokens.peer(p);
      const owner = seen.get(token);
      expect(owner === undefined || owner === p.spiffeId).toBe(true);
      seen.set(token, p.spiffeId);
    }
    expect(tokens.size).toBeLessThanOrEqual(2);
  });

  it('ends each token so it cannot run into the next part of the key', () => {
    const tokens = new IdentityTokens();
    for (let i = 0; i < 40; i++) expect(tokens.peer(peer(`q${i}`))).toMatch(/^#[0-9a-z]+\.$/);
  });
});
