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

const condition = fc.oneof(
  fc.record({ key: fc.constant('request.headers[x-h]'), values: fc.subarray(['1', '2', '*'], { minLength: 1 }) }),
  fc.record({ key: fc.constant('request.headers[x-h]'), notValues: fc.subarray(['1', '2'], { minLength: 1 }) }),
  fc.record({ key: fc.constant('request.auth.claims[g]'), values: fc.subarray(['g1', 'g2'], { minLength: 1 }) }),
  fc.record({ key: fc.constant('source.ip'), notValues: fc.subarray(['10.0.0.0/8'], { minLength: 1 }) }),
);

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

export const requestArb: fc.Arbitrary<RequestAttributes> = fc
  .record({
    peer: fc.constantFrom(
      null,
      'spiffe://cluster.local/ns/a/sa/x',
      'spiffe://cluster.local/ns/b/sa/y',
      'spiffe://other.td/ns/a/sa/z',
    ),
    user: fc.constantFrom(null, 'alice', 'bob'),
    groups: fc.subarray(['g1', 'g2']),
    sourceIp: fc.constantFrom('10.1.2.3', '10.2.0.1', '192.168.1.1', '172.16.0.1', ''),
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
    port: fc.constantFrom(80, 8080, 9090),
    header: fc.constantFrom(undefined, '1', '2'),
  })
  .map((g) =>
    req({
      peer: g.peer === null ? null : peer(g.peer),
      user: g.user === null ? null : user('iss', g.user, { g: g.groups }),
      sourceIp: g.sourceIp,
      remoteIp: g.sourceIp,
      host: g.host,
      method: g.method,
      path: g.path,
      destinationPort: g.port,
      headers: g.header === undefined ? {} : { 'x-h': g.header },
    }),
  );

let counter = 0;

/** A LoadedPolicy in namespace foo selecting app=httpbin. */
export function loaded(action: 'ALLOW' | 'DENY' | 'AUDIT', rules: readonly PolicyRule[], dryRun = false): LoadedPolicy {
  counter++;
  return {
    policy: {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: `p${counter}`, namespace: 'foo' },
      spec: { selector: { matchLabels: { app: 'httpbin' } }, action, rules },
    },
    source: { file: 'property', line: counter },
    dryRun,
  };
}
