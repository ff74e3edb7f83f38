import { describe } from 'vitest';
import {
  type ConformanceCase,
  DOC_AP,
  DOC_BEST,
  runCases,
  SRC_GENERATOR,
  SRC_MATCHER,
  SRC_TD,
} from './policy-cases.js';
import { peer, policy, req, user } from './policy-fixtures.js';

/** Every Source and Operation field, its not-form and each string-match form. ALLOW policies: match ⇔ allowed. */

const from = (field: string, values: string) => `  rules:\n  - from:\n    - source:\n        ${field}: ${values}`;
const to = (field: string, values: string) => `  rules:\n  - to:\n    - operation:\n        ${field}: ${values}`;
const allow = (rules: string) => policy('ALLOW', rules);
const SA_B = peer('spiffe://cluster.local/ns/a/sa/b');
const ISS = 'https://accounts.example.com';

const cases: ConformanceCase[] = [
  // principals
  {
    name: 'principals exact matches spiffe:// + value',
    source: DOC_AP,
    policies: allow(from('principals', '["cluster.local/ns/a/sa/b"]')),
    request: req({ peer: SA_B }),
    allowed: true,
  },
  {
    name: 'principals exact does not match another identity',
    source: DOC_AP,
    policies: allow(from('principals', '["cluster.local/ns/a/sa/c"]')),
    request: req({ peer: SA_B }),
    allowed: false,
  },
  {
    name: 'principals written with spiffe:// never match',
    source: SRC_MATCHER,
    policies: allow(from('principals', '["spiffe://cluster.local/ns/a/sa/b"]')),
    request: req({ peer: SA_B }),
    allowed: false,
  },
  {
    name: 'principals prefix form',
    source: SRC_MATCHER,
    policies: allow(from('principals', '["cluster.local/ns/a/*"]')),
    request: req({ peer: SA_B }),
    allowed: true,
  },
  {
    name: 'principals suffix form',
    source: SRC_MATCHER,
    policies: allow(from('principals', '["*/sa/b"]')),
    request: req({ peer: SA_B }),
    allowed: true,
  },
  {
    name: 'principals "*" needs an authenticated peer: plaintext is denied',
    source: DOC_AP,
    policies: allow(from('principals', '["*"]')),
    request: req({ peer: null }),
    allowed: false,
  },
  {
    name: 'principals "*" matches any mTLS peer',
    source: DOC_AP,
    policies: allow(from('principals', '["*"]')),
    request: req({ peer: SA_B }),
    allowed: true,
  },
  {
    name: 'an inner * in principals is literal',
    source: SRC_MATCHER,
    policies: allow(from('principals', '["cluster.local/ns/*/sa/b"]')),
    request: req({ peer: SA_B }),
    allowed: false,
  },
  {
    name: 'notPrincipals matches a plaintext request (it is none of them)',
    source: DOC_AP,
    policies: allow(from('notPrincipals', '["cluster.local/ns/a/sa/b"]')),
    request: req({ peer: null }),
    allowed: true,
  },
  {
    name: 'notPrincipals excludes the listed identity',
    source: DOC_AP,
    policies: allow(from('notPrincipals', '["cluster.local/ns/a/sa/b"]')),
    request: req({ peer: SA_B }),
    allowed: false,
  },
  {
    name: 'cluster.local in a principal means the local trust domain (here example.org)',
    source: SRC_TD,
    policies: allow(from('principals', '["cluster.local/ns/a/sa/b"]')),
    request: req({ peer: peer('spiffe://example.org/ns/a/sa/b') }),
    options: { trustDomain: 'example.org' },
    allowed: true,
  },
  {
    name: 'a trust domain alias matches the local trust domain principal',
    source: SRC_TD,
    policies: allow(from('principals', '["new.td/ns/a/sa/b"]')),
    request: req({ peer: peer('spiffe://old.td/ns/a/sa/b') }),
    options: { trustDomain: 'new.td', trustDomainAliases: ['old.td'] },
    allowed: true,
  },
  {
    name: 'a foreign trust domain is not rewritten',
    source: SRC_TD,
    policies: allow(from('principals', '["other.td/ns/a/sa/b"]')),
    request: req({ peer: peer('spiffe://cluster.local/ns/a/sa/b') }),
    allowed: false,
  },
  // namespaces
  {
    name: 'namespaces matches the /ns/<x>/ segment of the peer',
    source: SRC_GENERATOR,
    policies: allow(from('namespaces', '["a"]')),
    request: req({ peer: SA_B }),
    allowed: true,
  },
  {
    name: 'namespaces does not match another namespace',
    source: SRC_GENERATOR,
    policies: allow(from('namespaces', '["ab"]')),
    request: req({ peer: SA_B }),
    allowed: false,
  },
  {
    name: 'namespaces: an inner * is a wildcard',
    source: SRC_GENERATOR,
    policies: allow(from('namespaces', '["t*m-a"]')),
    request: req({ peer: peer('spiffe://cluster.local/ns/team-a/sa/x') }),
    allowed: true,
  },
  {
    name: 'namespaces needs mTLS: plaintext never matches',
    source: DOC_AP,
    policies: allow(from('namespaces', '["*"]')),
    request: req({ peer: null }),
    allowed: false,
  },
  {
    name: 'notNamespaces excludes the namespace',
    source: DOC_AP,
    policies: allow(from('notNamespaces', '["a"]')),
    request: req({ peer: SA_B }),
    allowed: false,
  },
  // serviceAccounts
  {
    name: 'serviceAccounts ns/sa matches that service account',
    source: DOC_AP,
    policies: allow(from('serviceAccounts', '["a/b"]')),
    request: req({ peer: SA_B }),
    allowed: true,
  },
  {
    name: 'serviceAccounts bare sa is in the policy namespace (foo), not a',
    source: DOC_AP,
    policies: allow(from('serviceAccounts', '["b"]')),
    request: req({ peer: SA_B }),
    allowed: false,
  },
  {
    name: 'serviceAccounts bare sa in the policy namespace matches',
    source: DOC_AP,
    policies: allow(from('serviceAccounts', '["b"]')),
    request: req({ peer: peer('spiffe://cluster.local/ns/foo/sa/b') }),
    allowed: true,
  },
  {
    name: 'notServiceAccounts excludes it',
    source: DOC_AP,
    policies: allow(from('notServiceAccounts', '["a/b"]')),
    request: req({ peer: SA_B }),
    allowed: false,
  },
  // requestPrincipals
  {
    name: 'requestPrincipals iss/sub exact',
    source: DOC_AP,
    policies: allow(from('requestPrincipals', `["${ISS}/alice"]`)),
    request: req({ user: user(ISS, 'alice') }),
    allowed: true,
  },
  {
    name: 'requestPrincipals iss/* is any subject of that issuer',
    source: SRC_GENERATOR,
    policies: allow(from('requestPrincipals', `["${ISS}/*"]`)),
    request: req({ user: user(ISS, 'bob') }),
    allowed: true,
  },
  {
    name: 'requestPrincipals iss/* does not match a longer issuer',
    source: SRC_GENERATOR,
    policies: allow(from('requestPrincipals', `["${ISS}/*"]`)),
    request: req({ user: user(`${ISS}/tenant`, 'bob') }),
    allowed: false,
  },
  {
    name: 'requestPrincipals "*" needs a token',
    source: DOC_AP,
    policies: allow(from('requestPrincipals', '["*"]')),
    request: req({ user: null }),
    allowed: false,
  },
  {
    name: 'requestPrincipals "*" matches any verified token',
    source: DOC_AP,
    policies: allow(from('requestPrincipals', '["*"]')),
    request: req({ user: user(ISS, 'x') }),
    allowed: true,
  },
  {
    name: 'notRequestPrincipals "*" matches a request without a token',
    source: DOC_AP,
    policies: allow(from('notRequestPrincipals', '["*"]')),
    request: req({ user: null }),
    allowed: true,
  },
  // ipBlocks
  {
    name: 'ipBlocks CIDR contains the source IP',
    source: DOC_AP,
    policies: allow(from('ipBlocks', '["10.0.0.0/8"]')),
    request: req({ sourceIp: '10.1.2.3' }),
    allowed: true,
  },
  {
    name: 'ipBlocks single address',
    source: DOC_AP,
    policies: allow(from('ipBlocks', '["10.1.2.3"]')),
    request: req({ sourceIp: '10.1.2.4' }),
    allowed: false,
  },
  {
    name: 'ipBlocks IPv6 CIDR',
    source: DOC_AP,
    policies: allow(from('ipBlocks', '["2001:db8::/32"]')),
    request: req({ sourceIp: '2001:db8:1::5' }),
    allowed: true,
  },
  {
    name: 'notIpBlocks excludes the block',
    source: DOC_AP,
    policies: allow(from('notIpBlocks', '["10.0.0.0/8"]')),
    request: req({ sourceIp: '10.9.9.9' }),
    allowed: false,
  },
  {
    name: 'remoteIpBlocks reads the original client IP, not the direct peer',
    source: DOC_AP,
    policies: allow(from('remoteIpBlocks', '["203.0.113.0/24"]')),
    request: req({ sourceIp: '10.0.0.1', remoteIp: '203.0.113.7' }),
    allowed: true,
  },
  {
    name: 'notRemoteIpBlocks excludes the original client',
    source: DOC_AP,
    policies: allow(from('notRemoteIpBlocks', '["203.0.113.0/24"]')),
    request: req({ remoteIp: '203.0.113.7' }),
    allowed: false,
  },
  // hosts
  {
    name: 'hosts is case-insensitive',
    source: SRC_MATCHER,
    policies: allow(to('hosts', '["secret.com"]')),
    request: req({ host: 'Secret.COM' }),
    allowed: true,
  },
  {
    name: 'hosts does not strip the port',
    source: DOC_BEST,
    policies: allow(to('hosts', '["example.com"]')),
    request: req({ host: 'example.com:80' }),
    allowed: false,
  },
  {
    name: 'hosts suffix form',
    source: SRC_MATCHER,
    policies: allow(to('hosts', '["*.example.com"]')),
    request: req({ host: 'api.example.com' }),
    allowed: true,
  },
  {
    name: 'notHosts excludes regardless of case',
    source: SRC_MATCHER,
    policies: allow(to('notHosts', '["secret.com"]')),
    request: req({ host: 'SECRET.com' }),
    allowed: false,
  },
  // ports
  {
    name: 'ports matches the destination port',
    source: DOC_AP,
    policies: allow(to('ports', '["8080"]')),
    request: req({ destinationPort: 8080 }),
    allowed: true,
  },
  {
    name: 'notPorts excludes the port',
    source: DOC_AP,
    policies: allow(to('notPorts', '["8080"]')),
    request: req({ destinationPort: 8080 }),
    allowed: false,
  },
  // methods
  {
    name: 'methods is case-sensitive',
    source: DOC_AP,
    policies: allow(to('methods', '["get"]')),
    request: req({ method: 'GET' }),
    allowed: false,
  },
  {
    name: 'gRPC is POST',
    source: DOC_AP,
    policies: allow(to('methods', '["POST"]')),
    request: req({ method: 'POST', path: '/pkg.Svc/Call' }),
    allowed: true,
  },
  {
    name: 'notMethods excludes the method',
    source: DOC_AP,
    policies: allow(to('notMethods', '["DELETE"]')),
    request: req({ method: 'DELETE' }),
    allowed: false,
  },
  // paths
  {
    name: 'paths exact ignores the query',
    source: DOC_AP,
    policies: allow(to('paths', '["/info"]')),
    request: req({ path: '/info?x=1' }),
    allowed: true,
  },
  {
    name: 'paths is case-sensitive',
    source: DOC_AP,
    policies: allow(to('paths', '["/info"]')),
    request: req({ path: '/INFO' }),
    allowed: false,
  },
  {
    name: 'paths prefix form',
    source: SRC_MATCHER,
    policies: allow(to('paths', '["/api/*"]')),
    request: req({ path: '/api/v1/x' }),
    allowed: true,
  },
  {
    name: 'paths suffix form',
    source: SRC_MATCHER,
    policies: allow(to('paths', '["*.png"]')),
    request: req({ path: '/img/a.png' }),
    allowed: true,
  },
  {
    name: 'paths template {*} matches one segment',
    source: DOC_AP,
    policies: allow(to('paths', '["/users/{*}/profile"]')),
    request: req({ path: '/users/42/profile' }),
    allowed: true,
  },
  {
    name: 'paths template {*} does not span segments',
    source: DOC_AP,
    policies: allow(to('paths', '["/users/{*}/profile"]')),
    request: req({ path: '/users/4/2/profile' }),
    allowed: false,
  },
  {
    name: 'paths template {**} matches many segments',
    source: DOC_AP,
    policies: allow(to('paths', '["/files/{**}"]')),
    request: req({ path: '/files/a/b/c.txt' }),
    allowed: true,
  },
  {
    name: 'paths template /a/{**} does not match /a',
    source: DOC_AP,
    policies: allow(to('paths', '["/a/{**}"]')),
    request: req({ path: '/a' }),
    allowed: false,
  },
  {
    name: 'notPaths excludes the path',
    source: DOC_AP,
    policies: allow(to('notPaths', '["/admin"]')),
    request: req({ path: '/admin' }),
    allowed: false,
  },
  // combination
  {
    name: 'fields in one source are ANDed',
    source: DOC_AP,
    policies: allow(
      '  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/a/sa/b"]\n        ipBlocks: ["192.168.0.0/16"]',
    ),
    request: req({ peer: SA_B, sourceIp: '10.0.0.1' }),
    allowed: false,
  },
  {
    name: 'from entries are ORed',
    source: DOC_AP,
    policies: allow(
      '  rules:\n  - from:\n    - source:\n        principals: ["x"]\n    - source:\n        ipBlocks: ["10.0.0.0/8"]',
    ),
    request: req({ sourceIp: '10.0.0.1' }),
    allowed: true,
  },
  {
    name: 'from, to and when are ANDed',
    source: DOC_AP,
    policies: allow(
      '  rules:\n  - from:\n    - source:\n        namespaces: ["a"]\n    to:\n    - operation:\n        methods: ["GET"]\n    when:\n    - key: request.headers[x-env]\n      values: ["prod"]',
    ),
    request: req({ peer: SA_B, method: 'GET', headers: { 'x-env': 'dev' } }),
    allowed: false,
  },
  {
    name: 'X and notX together: both must hold',
    source: DOC_AP,
    policies: allow('  rules:\n  - to:\n    - operation:\n        paths: ["/api/*"]\n        notPaths: ["/api/admin"]'),
    request: req({ path: '/api/admin' }),
    allowed: false,
  },
];

describe('conformance: source and operation fields', () => {
  runCases(cases);
});
