import fc from 'fast-check';
import type { LoadedPolicy, PolicyRule } from '../../src/policy/index.js';
import type { RequestAttributes } from '../../src/policy/types.js';
import { peer, req, user } from '../conformance/policy-fixtures.js';

/** fast-check generators for valid AuthorizationPolicy rules and requests, from small pools so they often meet. */

const POOLS: Record<string, readonly string[]> = {
  principals: ['cluster.local/ns/a/sa/x', 'cluster.local/ns/b/sa/y', 'cluster.local/ns/a/*', '*/sa/y', '*'],
  notPrincipals: ['cluster.local/ns/a/sa/x', '*'],
  namespaces: ['a', 'b', '*'],
  notNamespaces: ['a'],
  requestPrincipals: ['iss/alice', 'iss/*', '*'],
  notRequestPrincipals: ['*'],
  ipBlocks: ['10.0.0.0/8', '10.1.0.0/16', '192.168.1.1'],
  notIpBlocks: ['10.1.0.0/16'],
  remoteIpBlocks: ['10.0.0.0/8'],
  hosts: ['a.com', '*.a.com', 'B.com', 'a.com:*'],
  notHosts: ['b.com'],
  methods: ['GET', 'POST', 'DELETE'],
  notMethods: ['DELETE'],
  paths: ['/a', '/a/*', '/a/{*}', '/b/{**}', '*.png', '/admin', '*'],
  notPaths: ['/admin', '/a/*'],
  ports: ['80', '8080'],
  notPorts: ['9090'],
};

const SOURCE = [
  'principals',
  'notPrincipals',
  'namespaces',
  'notNamespaces',
  'requestPrincipals',
  'notRequestPrincipals',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
];
const OPERATION = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths', 'ports', 'notPorts'];

function clause(fields: readonly string[]) {
  return fc
    .uniqueArray(fc.constantFrom(...fields), { minLength: 1, maxLength: 3 })
    .chain((keys) =>
      fc.tuple(...keys.map((k) => fc.subarray([...POOLS[k]!], { minLength: 1 }).map((v) => [k, v] as const))),
    )
    .map((pairs) => Object.fromEntries(pairs));
}

/**
 * `when` keys of every kind the engine knows, each with a small pool of values that the request generator below
 * both meets and misses (so values, notValues and missing attributes all come up). A key the cache plan reads
 * wrongly shows up in the cache-soundness property.
 */
const CONDITION_POOLS: Record<string, readonly string[]> = {
  'request.headers[x-h]': ['1', '2', '*'],
  'request.headers[X-K]': ['k1', 'k*'],
  'source.ip': ['10.0.0.0/8', '192.168.1.1'],
  'remote.ip': ['10.0.0.0/8', '172.16.0.1'],
  'destination.ip': ['10.0.0.2', '10.9.0.0/16'],
  'destination.port': ['80', '8080'],
  'connection.sni': ['a.sni', '*.sni'],
  'source.principal': ['cluster.local/ns/a/sa/x', 'cluster.local/ns/b/*', '*'],
  'source.namespace': ['a', 'b', 'o*'],
  'source.serviceAccount': ['a/x', 'b/y'],
  'source.trustDomain': ['cluster.local', 'other.*'],
  'request.auth.principal': ['iss/alice', 'other-iss/*', '*'],
  'request.auth.audiences': ['aud1', 'aud*'],
  'request.auth.presenter': ['client-a', '*'],
  'request.auth.claims[g]': ['g1', 'g2'],
  'request.auth.claims[scope]': ['read', 'write'],
  'request.auth.claims[permission]': ['p:read', 'p:*'],
  'request.auth.claims[org][team]': ['blue'],
  // `[v]` matches a list holding a string matching v; a plain `v` a string value only.
  'experimental.envoy.filters.http.f[k]': ['m1', 'm*', '[m1]', '[m*]'],
  'experimental.envoy.filters.http.g[k]': ['m1', '[x]'],
};

/** One condition on one of `keys`: values, notValues, or both (a value in both lists can never hold). */
export function conditionOn(
  keys: readonly string[],
): fc.Arbitrary<{ key: string; values?: string[]; notValues?: string[] }> {
  return fc.constantFrom(...keys).chain((key) => {
    const pool = [...CONDITION_POOLS[key]!];
    const list = fc.subarray(pool, { minLength: 1 });
    return fc.oneof(
      fc.record({ key: fc.constant(key), values: list }),
      fc.record({ key: fc.constant(key), notValues: list }),
      fc.record({ key: fc.constant(key), values: list, notValues: list }),
    );
  });
}

/** Every `when` key kind conditions.ts knows. */
export const CONDITION_KEYS: readonly string[] = Object.keys(CONDITION_POOLS);
const condition = conditionOn(CONDITION_KEYS);

export const ruleArb: fc.Arbitrary<PolicyRule> = fc
  .record(
    {
      from: fc.array(
        clause(SOURCE).map((source) => ({ source })),
        { minLength: 1, maxLength: 2 },
      ),
      to: fc.array(
        clause(OPERATION).map((operation) => ({ operation })),
        { minLength: 1, maxLength: 2 },
      ),
      when: fc.array(condition, { minLength: 1, maxLength: 2 }),
    },
    { requiredKeys: [] },
  )
  .map((r) => r as PolicyRule);

/** A rule with one `from` (or one `to`) entry and nothing else: what it reads decides alone. */
export const fromRuleArb: fc.Arbitrary<PolicyRule> = clause(SOURCE).map(
  (source) => ({ from: [{ source }] }) as PolicyRule,
);
export const toRuleArb: fc.Arbitrary<PolicyRule> = clause(OPERATION).map(
  (operation) => ({ to: [{ operation }] }) as PolicyRule,
);

/**
 * A rule of `when` conditions on `keys` only: the decision then hinges on those conditions alone, so a cache key that
 * leaves out what one of them reads is found in a few runs (ruleArb's `from`/`to` often decide first).
 */
export function whenRuleOn(keys: readonly string[]): fc.Arbitrary<PolicyRule> {
  return fc.array(conditionOn(keys), { minLength: 1, maxLength: 3 }).map((when) => ({ when }) as PolicyRule);
}

export const requestArb: fc.Arbitrary<RequestAttributes> = fc
  .record({
    peer: fc.constantFrom(
      null,
      'spiffe://cluster.local/ns/a/sa/x',
      'spiffe://cluster.local/ns/b/sa/y',
      'spiffe://other.td/ns/a/sa/z',
      'spiffe://other.td/ns/b/sa/y',
      'spiffe://cluster.local/ns/ops/sa/x',
      'spiffe://cluster.local/custom/path',
    ),
    user: fc.constantFrom(null, 'alice', 'bob', ''),
    issuer: fc.constantFrom('iss', 'other-iss'),
    groups: fc.subarray(['g1', 'g2']),
    scope: fc.constantFrom(undefined, 'read', 'read write', 'admin'),
    team: fc.constantFrom(undefined, 'blue', 'red'),
    permission: fc.constantFrom(undefined, 'p:read', 'p:read p:write', 'p:other'),
    audiences: fc.subarray(['aud1', 'aud2', 'x']),
    presenter: fc.constantFrom(null, 'client-a', 'client-b'),
    sourceIp: fc.constantFrom('10.1.2.3', '10.2.0.1', '192.168.1.1', '172.16.0.1', ''),
    remoteIp: fc.constantFrom('10.1.2.3', '192.168.1.1', '172.16.0.1', ''),
    destinationIp: fc.constantFrom('10.0.0.2', '10.9.1.1', '192.168.0.9', ''),
    host: fc.constantFrom('a.com', 'x.a.com', 'b.com', 'A.COM:80', 'B.com'),
    method: fc.constantFrom('GET', 'POST', 'DELETE'),
    path: fc.constantFrom(
      '/a',
      '/a/x',
      '/a/x/y',
      '/b',
      '/b/c/d',
      '/img.png',
      '/admin',
      '/a/../admin',
      '//admin',
      '/a%2Fb',
      '/%61dmin',
      '/a?q=1',
    ),
    port: fc.constantFrom(80, 8080, 9090, 0),
    sni: fc.constantFrom('', 'a.sni', 'b.sni', 'c.other'),
    header: fc.constantFrom(undefined, '1', '2', ''),
    headerK: fc.constantFrom(undefined, 'k1', 'k2'),
    metadata: fc.constantFrom<undefined | string | string[]>(
      undefined,
      'm1',
      'm2',
      'other-filter',
      ['m1'],
      ['m2', 'x'],
    ),
  })
  .map((g) =>
    req({
      peer: g.peer === null ? null : peer(g.peer),
      user:
        g.user === null
          ? null
          : user(
              g.issuer,
              g.user,
              {
                g: g.groups,
                ...(g.scope === undefined ? {} : { scope: g.scope }),
                ...(g.team === undefined ? {} : { org: { team: g.team } }),
                ...(g.permission === undefined ? {} : { permission: g.permission }),
              },
              // A fingerprint pins the whole token: a different claim is a different token.
              {
                audiences: g.audiences,
                presenter: g.presenter,
                credentialId: JSON.stringify([
                  g.issuer,
                  g.user,
                  g.groups,
                  g.scope,
                  g.team,
                  g.permission,
                  g.audiences,
                  g.presenter,
                ]),
              },
            ),
      sourceIp: g.sourceIp,
      remoteIp: g.remoteIp,
      destinationIp: g.destinationIp,
      host: g.host,
      method: g.method,
      path: g.path,
      destinationPort: g.port,
      sni: g.sni,
      headers: {
        ...(g.header === undefined ? {} : { 'x-h': g.header }),
        ...(g.headerK === undefined ? {} : { 'x-k': g.headerK }),
      },
      filterMetadata:
        g.metadata === undefined
          ? {}
          : g.metadata === 'other-filter'
            ? { 'envoy.filters.http.g': { k: ['x'] }, 'envoy.filters.http.f': { other: 'm1' } }
            : { 'envoy.filters.http.f': { k: g.metadata } },
    }),
  );

let counter = 0;

/** A LoadedPolicy in namespace foo selecting app=httpbin (or, `namespaceWide`, every workload of foo). */
export function loaded(
  action: 'ALLOW' | 'DENY' | 'AUDIT',
  rules: readonly PolicyRule[],
  dryRun = false,
  namespaceWide = false,
): LoadedPolicy {
  counter++;
  return {
    policy: {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: `p${counter}`, namespace: 'foo' },
      spec: namespaceWide ? { action, rules } : { selector: { matchLabels: { app: 'httpbin' } }, action, rules },
    },
    source: { file: 'property', line: counter },
    dryRun,
  };
}
