import { describe, expect, it } from 'vitest';
import { peer, req, user, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import type { AttributeName } from './checks.js';
import { bracketKeys, claimValues, compileCondition, conditionReads } from './conditions.js';
import type { LoadedPolicy, PolicyCondition } from './model.js';
import { resolveCompileOptions } from './options.js';
import { compilePolicySet } from './set.js';
import { type AttributeUse, NO_ATTRIBUTES, type RequestAttributes } from './types.js';

/**
 * Unit spec of the `when` conditions: for every key a request that matches, one that does not, and one without the
 * attribute; `notValues` alone and together with `values`; and the attribute each key reports to the decision
 * cache (a key that reports the wrong attribute leaves what it reads out of the cache key).
 */

const OPTIONS = resolveCompileOptions();
const ISS = 'https://issuer.example.com';
const JWT_FILTER = 'envoy.filters.http.jwt_authn';

const cond = (c: PolicyCondition) => compileCondition(c, 'spec.rules[0].when[0]', 'foo', OPTIONS);
const holds = (c: PolicyCondition, r: RequestAttributes) => cond(c).test(r, r.path);

let counter = 0;
function setOf(action: 'ALLOW' | 'DENY', when: readonly PolicyCondition[]) {
  counter++;
  const loaded: LoadedPolicy = {
    policy: {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: `c${counter}`, namespace: 'foo' },
      spec: { selector: { matchLabels: { app: 'httpbin' } }, action, rules: [{ when }] },
    },
    source: { file: 'spec', line: counter },
    dryRun: false,
  };
  return compilePolicySet([loaded], {}, 1);
}

interface KeyCase {
  readonly key: string;
  readonly values: readonly string[];
  readonly reads: AttributeName;
  readonly match: RequestAttributes;
  readonly miss: RequestAttributes;
  /** The request without the attribute (no header, no peer, no token, no metadata, empty value). */
  readonly absent: RequestAttributes;
}

const alice = user(
  ISS,
  'alice',
  { groups: ['admins', 'dev'], scope: 'read write', nested: { team: 'blue' } },
  {
    audiences: ['api', 'web'],
    presenter: 'client-a',
  },
);
const bob = user(
  ISS,
  'bob',
  { groups: ['dev'], scope: 'read', nested: { team: 'red' } },
  {
    audiences: ['other'],
    presenter: 'client-b',
  },
);
const A_X = peer('spiffe://cluster.local/ns/a/sa/x');
const B_Y = peer('spiffe://cluster.local/ns/b/sa/y');
const OTHER_TD = peer('spiffe://other.example/ns/a/sa/x');

const CASES: readonly KeyCase[] = [
  {
    key: 'request.headers[X-Env]',
    values: ['prod'],
    reads: 'header',
    match: req({ headers: { 'x-env': 'prod' } }),
    miss: req({ headers: { 'x-env': 'dev', 'x-other': 'prod' } }),
    absent: req({ headers: {} }),
  },
  {
    key: 'source.ip',
    values: ['10.0.0.0/8'],
    reads: 'sourceIp',
    // The other IP attributes hold the opposite each time: the key must read its own.
    match: req({ sourceIp: '10.1.2.3', remoteIp: '192.168.0.1', destinationIp: '192.168.0.2' }),
    miss: req({ sourceIp: '192.168.0.1', remoteIp: '10.1.2.3', destinationIp: '10.1.2.4' }),
    absent: req({ sourceIp: '', remoteIp: '10.1.2.3', destinationIp: '10.1.2.4' }),
  },
  {
    key: 'remote.ip',
    values: ['10.0.0.0/8'],
    reads: 'remoteIp',
    match: req({ remoteIp: '10.1.2.3', sourceIp: '192.168.0.1', destinationIp: '192.168.0.2' }),
    miss: req({ remoteIp: '192.168.0.1', sourceIp: '10.1.2.3', destinationIp: '10.1.2.4' }),
    absent: req({ remoteIp: '', sourceIp: '10.1.2.3', destinationIp: '10.1.2.4' }),
  },
  {
    key: 'destination.ip',
    values: ['10.0.0.0/8'],
    reads: 'destinationIp',
    match: req({ destinationIp: '10.1.2.3', sourceIp: '192.168.0.1', remoteIp: '192.168.0.2' }),
    miss: req({ destinationIp: '192.168.0.1', sourceIp: '10.1.2.3', remoteIp: '10.1.2.4' }),
    absent: req({ destinationIp: '', sourceIp: '10.1.2.3', remoteIp: '10.1.2.4' }),
  },
  {
    key: 'destination.port',
    values: ['8080'],
    reads: 'destinationPort',
    match: req({ destinationPort: 8080 }),
    miss: req({ destinationPort: 9090 }),
    absent: req({ destinationPort: 0 }),
  },
  {
    key: 'connection.sni',
    values: ['api.example.com'],
    reads: 'sni',
    match: req({ sni: 'api.example.com' }),
    miss: req({ sni: 'web.example.com' }),
    absent: req({ sni: '' }),
  },
  {
    key: 'source.principal',
    values: ['cluster.local/ns/a/sa/x'],
    reads: 'peer',
    match: req({ peer: A_X }),
    miss: req({ peer: B_Y }),
    absent: req({ peer: null }),
  },
  {
    key: 'source.namespace',
    values: ['a'],
    reads: 'peer',
    match: req({ peer: A_X }),
    miss: req({ peer: B_Y }),
    absent: req({ peer: null }),
  },
  {
    key: 'source.serviceAccount',
    values: ['a/x'],
    reads: 'peer',
    match: req({ peer: A_X }),
    miss: req({ peer: B_Y }),
    absent: req({ peer: null }),
  },
  {
    key: 'source.trustDomain',
    values: ['cluster.local'],
    reads: 'peer',
    match: req({ peer: A_X }),
    miss: req({ peer: OTHER_TD }),
    absent: req({ peer: null }),
  },
  {
    key: 'request.auth.principal',
    values: [`${ISS}/alice`],
    reads: 'user',
    match: req({ user: alice }),
    miss: req({ user: bob }),
    absent: req({ user: null }),
  },
  {
    key: 'request.auth.audiences',
    values: ['web'],
    reads: 'user',
    match: req({ user: alice }),
    miss: req({ user: bob }),
    absent: req({ user: null }),
  },
  {
    key: 'request.auth.presenter',
    values: ['client-a'],
    reads: 'user',
    match: req({ user: alice }),
    miss: req({ user: bob }),
    absent: req({ user: { ...alice, presenter: null } }),
  },
  {
    key: 'request.auth.claims[groups]',
    values: ['admins'],
    reads: 'user',
    match: req({ user: alice }),
    miss: req({ user: bob }),
    absent: req({ user: null }),
  },
  {
    key: 'request.auth.claims[nested][team]',
    values: ['blue'],
    reads: 'user',
    match: req({ user: alice }),
    miss: req({ user: bob }),
    absent: req({ user: user(ISS, 'carol') }),
  },
  {
    key: `experimental.envoy.filters.http.jwt_authn[verdict]`,
    values: ['ok'],
    reads: 'metadata',
    match: req({ filterMetadata: { [JWT_FILTER]: { verdict: 'ok' } } }),
    miss: req({ filterMetadata: { [JWT_FILTER]: { verdict: 'no' }, 'envoy.filters.http.other': { verdict: 'ok' } } }),
    absent: req({ filterMetadata: {} }),
  },
];

/** The AttributeUse a set whose only rule reads `key` reports. */
function expectedUse(c: KeyCase): AttributeUse {
  if (c.reads === 'header') return { ...NO_ATTRIBUTES, headers: [bracketKeys(c.key)[0]!.toLowerCase()] };
  return { ...NO_ATTRIBUTES, [c.reads]: true };
}

describe.each(CASES)('$key', (c) => {
  const values = { key: c.key, values: c.values };
  const notValues = { key: c.key, notValues: c.values };

  it(`${c.key} reports reading ${c.reads}, so the decision cache key includes it`, () => {
    expect(conditionReads(c.key)).toBe(c.reads);
    expect(cond(values).reads).toBe(c.reads);
    expect(setOf('ALLOW', [values]).attributesFor(WORKLOAD)).toEqual(expectedUse(c));
    expect(setOf('DENY', [notValues]).attributesFor(WORKLOAD)).toEqual(expectedUse(c));
  });

  it(`${c.key} values: matches a listed value only`, () => {
    expect(holds(values, c.match)).toBe(true);
    expect(holds(values, c.miss)).toBe(false);
  });

  it(`${c.key} values only: no notValues are added`, () => {
    expect([cond(values).values, cond(values).notValues]).toEqual([c.values, []]);
    expect([cond(notValues).values, cond(notValues).notValues]).toEqual([[], c.values]);
  });

  it(`${c.key} values: a request without the attribute never matches`, () => {
    expect(holds(values, c.absent)).toBe(false);
  });

  it(`${c.key} notValues: fails a listed value, passes another value and a missing attribute`, () => {
    expect(holds(notValues, c.match)).toBe(false);
    expect(holds(notValues, c.miss)).toBe(true);
    expect(holds(notValues, c.absent)).toBe(true);
  });

  it(`${c.key} values with notValues: holds only for a value in values and not in notValues`, () => {
    const both = cond({ key: c.key, values: c.values, notValues: ['no-such-value'] });
    expect(both.test(c.match, c.match.path)).toBe(true);
    expect(both.test(c.miss, c.miss.path)).toBe(false);
    const cut = cond({ key: c.key, values: c.values, notValues: c.values });
    expect(cut.test(c.match, c.match.path)).toBe(false);
    expect([cut.values, cut.notValues]).toEqual([c.values, c.values]);
  });

  it(`DENY when ${c.key} notValues: denies every other value and a request without the attribute`, () => {
    const set = setOf('DENY', [notValues]);
    expect(set.evaluate(WORKLOAD, c.match).allowed).toBe(true);
    expect(set.evaluate(WORKLOAD, c.miss).code).toBe('deny_matched');
    expect(set.evaluate(WORKLOAD, c.absent).code).toBe('deny_matched');
  });

  it(`ALLOW when ${c.key} values: allows the listed value only`, () => {
    const set = setOf('ALLOW', [values]);
    expect(set.evaluate(WORKLOAD, c.match).code).toBe('allow_matched');
    expect(set.evaluate(WORKLOAD, c.miss).allowed).toBe(false);
    expect(set.evaluate(WORKLOAD, c.absent).allowed).toBe(false);
  });
});

describe('when keys: details that decide', () => {
  it('request.headers "*" means the header is present, even with an empty value', () => {
    const present = { key: 'request.headers[x-a]', values: ['*'] };
    expect(holds(present, req({ headers: { 'x-a': '' } }))).toBe(true);
    expect(holds(present, req({ headers: { 'x-b': 'v' } }))).toBe(false);
    expect(cond(present).header).toBe('x-a');
  });

  it('request.headers values and notValues together: both must hold', () => {
    const c = { key: 'request.headers[x-a]', values: ['v*'], notValues: ['v2'] };
    expect(holds(c, req({ headers: { 'x-a': 'v1' } }))).toBe(true);
    expect(holds(c, req({ headers: { 'x-a': 'v2' } }))).toBe(false);
    expect(holds(c, req({ headers: { 'x-a': 'w' } }))).toBe(false);
    expect(holds(c, req({ headers: {} }))).toBe(false);
  });

  it('source.trustDomain "*" is any trust domain, and inner "*" is a wildcard', () => {
    expect(holds({ key: 'source.trustDomain', values: ['*'] }, req({ peer: OTHER_TD }))).toBe(true);
    expect(holds({ key: 'source.trustDomain', values: ['*'] }, req({ peer: null }))).toBe(false);
    expect(holds({ key: 'source.trustDomain', values: ['other.*'] }, req({ peer: OTHER_TD }))).toBe(true);
    expect(holds({ key: 'source.trustDomain', values: ['other.*'] }, req({ peer: A_X }))).toBe(false);
  });

  it('request.auth.claims: "scope" and "permission" are split on spaces; other string claims are not', () => {
    const split = user(ISS, 'u', { scope: 'read  write', permission: 'p1 p2', role: 'a b' });
    expect(holds({ key: 'request.auth.claims[scope]', values: ['write'] }, req({ user: split }))).toBe(true);
    expect(holds({ key: 'request.auth.claims[permission]', values: ['p2'] }, req({ user: split }))).toBe(true);
    expect(holds({ key: 'request.auth.claims[permission]', values: ['p1 p2'] }, req({ user: split }))).toBe(false);
    expect(holds({ key: 'request.auth.claims[role]', values: ['b'] }, req({ user: split }))).toBe(false);
    expect(holds({ key: 'request.auth.claims[role]', values: ['a b'] }, req({ user: split }))).toBe(true);
  });

  it('claimValues: only strings count; a path through a non-object claim finds nothing', () => {
    const u = user(ISS, 'u', { list: ['a', 1, true, 'b'], num: 7, str: 'x', arr: [{ k: 'v' }], obj: { k: 'v' } });
    expect(claimValues(u, ['list'])).toEqual(['a', 'b']);
    expect(claimValues(u, ['num'])).toEqual([]);
    expect(claimValues(u, ['str', 'k'])).toEqual([]);
    expect(claimValues(u, ['arr', 'k'])).toEqual([]);
    expect(claimValues(u, ['obj', 'k'])).toEqual(['v']);
    expect(claimValues(u, ['obj'])).toEqual([]);
    expect(claimValues(u, ['missing', 'k'])).toEqual([]);
    // Nested claim names never index into a list or through a null.
    expect(claimValues(u, ['list', '0'])).toEqual([]);
    expect(claimValues(user(ISS, 'u', { n: null }), ['n', 'k'])).toEqual([]);
    expect(claimValues(user(ISS, 'u', { scope: ' a  b ' }), ['scope'])).toEqual(['a', 'b']);
  });

  it('bracketKeys reads every bracketed name in order', () => {
    expect(bracketKeys('request.auth.claims[a][b.c][d]')).toEqual(['a', 'b.c', 'd']);
    expect(bracketKeys('request.headers[X-Y]')).toEqual(['X-Y']);
  });

  it('experimental.envoy.filters: metadata of another filter, or a non-object namespace, never matches', () => {
    const key = 'experimental.envoy.filters.http.jwt_authn[verdict]';
    const c = { key, values: ['ok'] };
    expect(holds(c, req({ filterMetadata: { 'envoy.filters.http.other': { verdict: 'ok' } } }))).toBe(false);
    expect(holds(c, req({ filterMetadata: { [JWT_FILTER]: 'ok' } }))).toBe(false);
    expect(holds(c, req({ filterMetadata: { [JWT_FILTER]: null } }))).toBe(false);
    expect(holds(c, req({ filterMetadata: { [JWT_FILTER]: { other: 'ok' } } }))).toBe(false);
    expect(holds(c, req({ filterMetadata: { [JWT_FILTER]: { verdict: 1 } } }))).toBe(false);
    expect(holds({ key, notValues: ['ok'] }, req({ filterMetadata: { [JWT_FILTER]: null } }))).toBe(true);
    // A list value: none of these values is in the list, however a value is read (plain or `[v]`).
    const list = req({ filterMetadata: { [JWT_FILTER]: { verdict: ['a', 'b', 1] } } });
    expect(holds({ key, values: ['c'] }, list)).toBe(false);
    expect(holds({ key, values: ['[c]'] }, list)).toBe(false);
    expect(holds({ key, values: ['1'] }, list)).toBe(false);
    expect(holds({ key, values: ['x*', '*x'] }, list)).toBe(false);
  });

  it('experimental.envoy.filters: "[v]" matches a list holding v; a plain value matches a string only', () => {
    const key = 'experimental.envoy.filters.http.jwt_authn[verdict]';
    const meta = (v: unknown) => req({ filterMetadata: { [JWT_FILTER]: { verdict: v } } });
    expect(holds({ key, values: ['[ok]'] }, meta(['a', 'ok']))).toBe(true);
    expect(holds({ key, values: ['[ok]'] }, meta(['a', 'b']))).toBe(false);
    expect(holds({ key, values: ['[ok]'] }, meta('ok'))).toBe(false);
    expect(holds({ key, values: ['ok'] }, meta(['ok']))).toBe(false);
    expect(holds({ key, values: ['[ok]', 'plain'] }, meta('plain'))).toBe(true);
    expect(holds({ key, values: ['[ok]', 'plain'] }, meta(['ok']))).toBe(true);
    expect(holds({ key, values: ['[ok]', 'plain'] }, meta('[ok]'))).toBe(false);
    // Every bracket at either end is dropped, none inside.
    expect(holds({ key, values: ['[[ok]]'] }, meta(['ok']))).toBe(true);
    expect(holds({ key, values: ['[a]b]'] }, meta(['a]b']))).toBe(true);
    expect(holds({ key, values: ['[a]b]'] }, meta(['ab']))).toBe(false);
    // Only a value with both brackets is a list form.
    expect(holds({ key, values: ['[a'] }, meta('[a'))).toBe(true);
    expect(holds({ key, values: ['a]'] }, meta('a]'))).toBe(true);
    expect(holds({ key, values: ['[a'] }, meta(['a']))).toBe(false);
    expect(holds({ key, values: ['a]'] }, meta(['a']))).toBe(false);
    // Forms inside the brackets; non-string list items never match.
    expect(holds({ key, values: ['[o*]'] }, meta(['x', 'ok']))).toBe(true);
    expect(holds({ key, values: ['[x*]'] }, meta([1, 'y']))).toBe(false);
    expect(holds({ key, values: ['[a]'] }, meta(['a', 'b']))).toBe(true);
    expect(holds({ key, notValues: ['[ok]'] }, meta(['ok']))).toBe(false);
    expect(holds({ key, notValues: ['[ok]'] }, meta('ok'))).toBe(true);
  });

  it('request.auth.presenter and audiences need a token', () => {
    expect(holds({ key: 'request.auth.presenter', values: ['*'] }, req({ user: null }))).toBe(false);
    expect(holds({ key: 'request.auth.audiences', values: ['*'] }, req({ user: null }))).toBe(false);
    expect(holds({ key: 'request.auth.audiences', values: ['*'] }, req({ user: alice }))).toBe(true);
    expect(holds({ key: 'request.auth.audiences', values: ['ap*'] }, req({ user: alice }))).toBe(true);
  });

  it('request.auth.principal "*" needs a non-empty subject', () => {
    expect(holds({ key: 'request.auth.principal', values: ['*'] }, req({ user: user(ISS, '') }))).toBe(false);
    expect(holds({ key: 'request.auth.principal', values: ['*'] }, req({ user: bob }))).toBe(true);
  });

  it('source.serviceAccount: a bare name is a service account of the policy namespace', () => {
    const c = { key: 'source.serviceAccount', values: ['x'] };
    expect(holds(c, req({ peer: peer('spiffe://cluster.local/ns/foo/sa/x') }))).toBe(true);
    expect(holds(c, req({ peer: A_X }))).toBe(false);
  });

  it('a condition names where it is in the policy and keeps its key as the field', () => {
    const c = cond({ key: 'source.ip', values: ['10.0.0.1'] });
    expect([c.field, c.at]).toEqual(['source.ip', 'spec.rules[0].when[0]']);
  });
});
