import { describe } from 'vitest';
import { type ConformanceCase, DOC_CONDITIONS, runCases, SRC_GENERATOR, SRC_MATCHER } from './policy-cases.js';
import { peer, policy, req, user } from './policy-fixtures.js';

/** Every `when` key, values vs notValues, and the missing-attribute rules. ALLOW policies: match ⇔ allowed. */

const when = (key: string, body: string) => policy('ALLOW', `  rules:\n  - when:\n    - key: ${key}\n      ${body}`);
const ISS = 'https://issuer.example.com';
const SA = peer('spiffe://cluster.local/ns/ops/sa/deployer');

const cases: ConformanceCase[] = [
  {
    name: 'request.headers values: exact',
    source: DOC_CONDITIONS,
    policies: when('request.headers[x-env]', 'values: ["prod"]'),
    request: req({ headers: { 'x-env': 'prod' } }),
    allowed: true,
  },
  {
    name: 'request.headers header names are case-insensitive',
    source: SRC_MATCHER,
    policies: when('request.headers[X-Env]', 'values: ["prod"]'),
    request: req({ headers: { 'x-env': 'prod' } }),
    allowed: true,
  },
  {
    name: 'request.headers values: a missing header never matches',
    source: DOC_CONDITIONS,
    policies: when('request.headers[x-env]', 'values: ["*"]'),
    request: req({ headers: {} }),
    allowed: false,
  },
  {
    name: 'request.headers notValues only: a missing header matches',
    source: DOC_CONDITIONS,
    policies: when('request.headers[x-env]', 'notValues: ["prod"]'),
    request: req({ headers: {} }),
    allowed: true,
  },
  {
    name: 'request.headers notValues excludes the value',
    source: DOC_CONDITIONS,
    policies: when('request.headers[x-env]', 'notValues: ["prod"]'),
    request: req({ headers: { 'x-env': 'prod' } }),
    allowed: false,
  },
  {
    name: 'request.headers prefix form',
    source: SRC_MATCHER,
    policies: when('request.headers[user-agent]', 'values: ["curl/*"]'),
    request: req({ headers: { 'user-agent': 'curl/8.0' } }),
    allowed: true,
  },
  {
    name: 'repeated headers are joined with "," by Envoy, so an exact value no longer matches',
    source: SRC_MATCHER,
    policies: when('request.headers[x-role]', 'values: ["admin"]'),
    request: req({ headers: { 'x-role': 'user,admin' } }),
    allowed: false,
  },
  {
    name: 'source.ip CIDR',
    source: DOC_CONDITIONS,
    policies: when('source.ip', 'values: ["10.0.0.0/8"]'),
    request: req({ sourceIp: '10.2.3.4' }),
    allowed: true,
  },
  {
    name: 'remote.ip CIDR',
    source: DOC_CONDITIONS,
    policies: when('remote.ip', 'values: ["203.0.113.0/24"]'),
    request: req({ remoteIp: '198.51.100.1' }),
    allowed: false,
  },
  {
    name: 'destination.ip',
    source: DOC_CONDITIONS,
    policies: when('destination.ip', 'values: ["10.0.0.2"]'),
    request: req({ destinationIp: '10.0.0.2' }),
    allowed: true,
  },
  {
    name: 'destination.port',
    source: DOC_CONDITIONS,
    policies: when('destination.port', 'values: ["443"]'),
    request: req({ destinationPort: 8080 }),
    allowed: false,
  },
  {
    name: 'source.namespace',
    source: DOC_CONDITIONS,
    policies: when('source.namespace', 'values: ["ops"]'),
    request: req({ peer: SA }),
    allowed: true,
  },
  {
    name: 'source.principal (spiffe:// added)',
    source: DOC_CONDITIONS,
    policies: when('source.principal', 'values: ["cluster.local/ns/ops/sa/deployer"]'),
    request: req({ peer: SA }),
    allowed: true,
  },
  {
    name: 'source.principal needs a peer',
    source: DOC_CONDITIONS,
    policies: when('source.principal', 'values: ["*"]'),
    request: req({ peer: null }),
    allowed: false,
  },
  {
    name: 'source.serviceAccount ns/sa',
    source: DOC_CONDITIONS,
    policies: when('source.serviceAccount', 'values: ["ops/deployer"]'),
    request: req({ peer: SA }),
    allowed: true,
  },
  {
    name: 'source.trustDomain',
    source: DOC_CONDITIONS,
    policies: when('source.trustDomain', 'values: ["cluster.local"]'),
    request: req({ peer: SA }),
    allowed: true,
  },
  {
    name: 'request.auth.principal',
    source: DOC_CONDITIONS,
    policies: when('request.auth.principal', `values: ["${ISS}/alice"]`),
    request: req({ user: user(ISS, 'alice') }),
    allowed: true,
  },
  {
    name: 'request.auth.audiences: any audience',
    source: DOC_CONDITIONS,
    policies: when('request.auth.audiences', 'values: ["api"]'),
    request: req({ user: user(ISS, 'a', {}, { audiences: ['web', 'api'] }) }),
    allowed: true,
  },
  {
    name: 'request.auth.presenter (azp)',
    source: DOC_CONDITIONS,
    policies: when('request.auth.presenter', 'values: ["cli"]'),
    request: req({ user: user(ISS, 'a', {}, { presenter: 'web' }) }),
    allowed: false,
  },
  {
    name: 'request.auth.claims: string claim',
    source: DOC_CONDITIONS,
    policies: when('request.auth.claims[role]', 'values: ["admin"]'),
    request: req({ user: user(ISS, 'a', { role: 'admin' }) }),
    allowed: true,
  },
  {
    name: 'request.auth.claims: list claim contains the value',
    source: DOC_CONDITIONS,
    policies: when('request.auth.claims[groups]', 'values: ["dev"]'),
    request: req({ user: user(ISS, 'a', { groups: ['ops', 'dev'] }) }),
    allowed: true,
  },
  {
    name: 'request.auth.claims: nested claim',
    source: DOC_CONDITIONS,
    policies: when('request.auth.claims[realm][role]', 'values: ["admin"]'),
    request: req({ user: user(ISS, 'a', { realm: { role: 'admin' } }) }),
    allowed: true,
  },
  {
    name: 'request.auth.claims: scope is split on spaces',
    source: SRC_GENERATOR,
    policies: when('request.auth.claims[scope]', 'values: ["write"]'),
    request: req({ user: user(ISS, 'a', { scope: 'read write' }) }),
    allowed: true,
  },
  {
    name: 'request.auth.claims: a missing claim never matches values',
    source: DOC_CONDITIONS,
    policies: when('request.auth.claims[role]', 'values: ["*"]'),
    request: req({ user: user(ISS, 'a') }),
    allowed: false,
  },
  {
    name: 'request.auth.claims: a non-string claim never matches',
    source: DOC_CONDITIONS,
    policies: when('request.auth.claims[admin]', 'values: ["true"]'),
    request: req({ user: user(ISS, 'a', { admin: true }) }),
    allowed: false,
  },
  {
    name: 'request.auth.*: no token never matches values',
    source: DOC_CONDITIONS,
    policies: when('request.auth.claims[role]', 'values: ["admin"]'),
    request: req({ user: null }),
    allowed: false,
  },
  {
    name: 'connection.sni',
    source: DOC_CONDITIONS,
    policies: when('connection.sni', 'values: ["*.example.com"]'),
    request: req({ sni: 'api.example.com' }),
    allowed: true,
  },
  {
    // `[update]` is a list match: the metadata list contains "update" (generator.go, envoyFilterGenerator).
    name: 'experimental.envoy.filters metadata',
    source: `${DOC_CONDITIONS}; ${SRC_GENERATOR}`,
    policies: when('experimental.envoy.filters.network.mysql_proxy[db.table]', 'values: ["[update]"]'),
    request: req({ filterMetadata: { 'envoy.filters.network.mysql_proxy': { 'db.table': ['update'] } } }),
    allowed: true,
  },
  {
    name: 'values and notValues together: both must hold',
    source: DOC_CONDITIONS,
    policies: when('request.headers[x-env]', 'values: ["p*"]\n      notValues: ["preview"]'),
    request: req({ headers: { 'x-env': 'preview' } }),
    allowed: false,
  },
];

describe('conformance: when conditions', () => {
  runCases(cases);
});
