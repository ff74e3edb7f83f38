import { describe } from 'vitest';
import { type ConformanceCase, ISTIO, runCases, SRC_GENERATOR_130, SRC_SECURITY } from './policy-cases.js';
import { peer, policy, req, user } from './policy-fixtures.js';

/**
 * Round two of identity matching: requestPrincipals split into issuer and subject, serviceAccounts in any trust
 * domain, and the trustDomains fields (Istio 1.30.2+). ALLOW policies: match ⇔ allowed.
 */

const from = (field: string, values: string) => `  rules:\n  - from:\n    - source:\n        ${field}: ${values}`;
const when = (key: string, body: string) => `  rules:\n  - when:\n    - key: ${key}\n      ${body}`;
const allow = (rules: string) => policy('ALLOW', rules);
const ISS = 'https://issuer.example.com';
// The maintainers' explanation of the split at the last `/`: istio/istio#50246.
const SRC_RP = `${SRC_GENERATOR_130} (requestPrincipalGenerator); istio/istio#50246`;
const SRC_SA = `${SRC_GENERATOR_130} (serviceAccountRegex)`;
const SRC_TD_GEN = `${SRC_GENERATOR_130} (srcTrustDomainGenerator); ${SRC_SECURITY} (CheckTrustDomainValues)`;

const cases: ConformanceCase[] = [
  // requestPrincipals: issuer and subject are matched separately.
  {
    name: 'requestPrincipals iss/prefix*: the prefix applies to the subject, never across the issuer',
    source: SRC_RP,
    policies: allow(from('requestPrincipals', `["${ISS}/us*"]`)),
    request: req({ user: user(`${ISS}/users`, 'x') }),
    allowed: false,
  },
  {
    name: 'requestPrincipals iss/prefix*: the issuer exact and a subject with that prefix match',
    source: SRC_RP,
    policies: allow(from('requestPrincipals', `["${ISS}/us*"]`)),
    request: req({ user: user(ISS, 'user-1') }),
    allowed: true,
  },
  {
    name: 'requestPrincipals */sub: any issuer, the subject exact (not a suffix of the joined string)',
    source: SRC_RP,
    policies: allow(from('requestPrincipals', '["*/alice"]')),
    request: req({ user: user(ISS, 'team/alice') }),
    allowed: false,
  },
  {
    name: 'requestPrincipals */sub: any issuer with exactly that subject matches',
    source: SRC_RP,
    policies: allow(from('requestPrincipals', '["*/alice"]')),
    request: req({ user: user('https://other.example', 'alice') }),
    allowed: true,
  },
  {
    name: 'requestPrincipals: an issuer containing / is split at the last /, so iss+sub cannot be re-cut',
    source: SRC_RP,
    policies: allow(from('requestPrincipals', `["${ISS}/tenants/a/alice"]`)),
    request: req({ user: user(`${ISS}/tenants`, 'a/alice') }),
    allowed: false,
  },
  {
    name: 'requestPrincipals: a trailing * after the host is a subject prefix with issuer "https:/" (never a URL)',
    source: SRC_RP,
    policies: allow(from('requestPrincipals', `["${ISS}*"]`)),
    request: req({ user: user(ISS, 'alice') }),
    allowed: false,
  },
  {
    name: 'requestPrincipals *suffix without /: any issuer, subject suffix',
    source: SRC_RP,
    policies: allow(from('requestPrincipals', '["*@corp.example"]')),
    request: req({ user: user(ISS, 'bob@corp.example') }),
    allowed: true,
  },
  {
    name: 'notRequestPrincipals iss/prefix*: a longer issuer is not excluded',
    source: SRC_RP,
    policies: allow(
      `  rules:\n  - from:\n    - source:\n        requestPrincipals: ["*"]\n        notRequestPrincipals: ["${ISS}/adm*"]`,
    ),
    request: req({ user: user(`${ISS}/admins`, 'x') }),
    allowed: true,
  },
  {
    name: 'notRequestPrincipals iss/prefix*: the issuer with a matching subject is excluded',
    source: SRC_RP,
    policies: allow(
      `  rules:\n  - from:\n    - source:\n        requestPrincipals: ["*"]\n        notRequestPrincipals: ["${ISS}/adm*"]`,
    ),
    request: req({ user: user(ISS, 'admin-7') }),
    allowed: false,
  },
  {
    name: 'request.auth.principal uses the same split (values)',
    source: SRC_RP,
    policies: allow(when('request.auth.principal', `values: ["${ISS}/us*"]`)),
    request: req({ user: user(`${ISS}/users`, 'x') }),
    allowed: false,
  },
  // serviceAccounts: any trust domain.
  {
    name: 'serviceAccounts ns/sa matches that service account in another trust domain',
    source: SRC_SA,
    policies: allow(from('serviceAccounts', '["ops/deployer"]')),
    request: req({ peer: peer('spiffe://partner.example/ns/ops/sa/deployer') }),
    allowed: true,
  },
  {
    name: 'serviceAccounts: extra segments around ns and sa match (/ns/<ns>/(.+/|)sa/<sa>(/.+)?)',
    source: SRC_SA,
    policies: allow(from('serviceAccounts', '["ops/deployer"]')),
    request: req({ peer: peer('spiffe://cluster.local/ns/ops/cluster/east/sa/deployer/v2') }),
    allowed: true,
  },
  {
    name: 'serviceAccounts: a longer service account name does not match',
    source: SRC_SA,
    policies: allow(from('serviceAccounts', '["ops/deployer"]')),
    request: req({ peer: peer('spiffe://partner.example/ns/ops/sa/deployer-2') }),
    allowed: false,
  },
  {
    name: 'source.serviceAccount matches in another trust domain too',
    source: SRC_SA,
    policies: allow(when('source.serviceAccount', 'values: ["ops/deployer"]')),
    request: req({ peer: peer('spiffe://partner.example/ns/ops/sa/deployer') }),
    allowed: true,
  },
  {
    name: 'DENY notServiceAccounts: the same service account of another trust domain is not denied',
    source: SRC_SA,
    policies:
      policy('DENY', from('notServiceAccounts', '["ops/deployer"]'), { name: 'only-deployer' }) +
      policy('ALLOW', '  rules:\n  - {}'),
    request: req({ peer: peer('spiffe://partner.example/ns/ops/sa/deployer') }),
    allowed: true,
    code: 'allow_matched',
  },
  // trustDomains (istio/api Source.trustDomains, Istio 1.30.2 and later) and source.trustDomain.
  {
    name: 'trustDomains exact matches the peer trust domain',
    source: SRC_TD_GEN,
    policies: allow(from('trustDomains', '["partner.example"]')),
    request: req({ peer: peer('spiffe://partner.example/ns/a/sa/b') }),
    allowed: true,
  },
  {
    name: 'trustDomains exact does not match a longer trust domain',
    source: SRC_TD_GEN,
    policies: allow(from('trustDomains', '["partner.example"]')),
    request: req({ peer: peer('spiffe://partner.example.evil/ns/a/sa/b') }),
    allowed: false,
  },
  {
    name: 'trustDomains *suffix form',
    source: SRC_TD_GEN,
    policies: allow(from('trustDomains', '["*.example"]')),
    request: req({ peer: peer('spiffe://prod.example/ns/a/sa/b') }),
    allowed: true,
  },
  {
    name: 'serviceAccounts with trustDomains in the same source pins the trust domain',
    source: SRC_TD_GEN,
    policies: allow(
      '  rules:\n  - from:\n    - source:\n        serviceAccounts: ["ops/deployer"]\n        trustDomains: ["cluster.local"]',
    ),
    request: req({ peer: peer('spiffe://partner.example/ns/ops/sa/deployer') }),
    allowed: false,
  },
  {
    name: 'source.trustDomain: a trust domain alias stands for the local trust domain',
    source: `${SRC_GENERATOR_130}; ${ISTIO} pilot/pkg/security/trustdomain/bundle.go (ExpandTrustDomainAliases)`,
    policies: allow(when('source.trustDomain', 'values: ["old.example"]')),
    options: { trustDomain: 'new.example', trustDomainAliases: ['old.example'] },
    request: req({ peer: peer('spiffe://new.example/ns/a/sa/b') }),
    allowed: true,
  },
];

describe('conformance: request principals, service accounts and trust domains (Istio 1.30.3)', () => {
  runCases(cases);
});
