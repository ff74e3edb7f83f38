import { describe, expect, it } from 'vitest';
import { peer, req, user, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import {
  type AttributeName,
  check,
  compileOperation,
  compileSource,
  type FieldCheck,
  requestPrincipalTest,
  serviceAccountMatches,
} from './checks.js';
import type { LoadedPolicy, PolicyOperation, PolicyRule, PolicySource } from './model.js';
import { resolveCompileOptions } from './options.js';
import { compilePolicySet } from './set.js';
import type { RequestAttributes } from './types.js';

/**
 * Unit spec of the `from.source` and `to.operation` checks. Every field gets the three sides a permissive bug hides
 * behind: a request it must match, one it must not, and one without the attribute (no peer, no token, empty value).
 * Every not-form is also run as a DENY policy, the way it is used to keep callers out.
 */

const OPTIONS = resolveCompileOptions();
const ISS = 'https://issuer.example.com';
const A_X = peer('spiffe://cluster.local/ns/a/sa/x');
const B_Y = peer('spiffe://cluster.local/ns/b/sa/y');
const OPS_DEPLOYER = peer('spiffe://cluster.local/ns/ops/sa/deployer');
const FOO_DEPLOYER = peer('spiffe://cluster.local/ns/foo/sa/deployer');

const source = (s: PolicySource) => compileSource(s, 'src', 'foo', OPTIONS);
const operation = (o: PolicyOperation) => compileOperation(o, 'op');
/** The AND of a clause, as a rule evaluates it; `path` stands for the normalized path. */
const holds = (checks: readonly FieldCheck[], r: RequestAttributes, path = r.path) =>
  checks.every((c) => c.test(r, path));

let counter = 0;
function policyOf(action: 'ALLOW' | 'DENY', rules: readonly PolicyRule[]): LoadedPolicy {
  counter++;
  return {
    policy: {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: `p${counter}`, namespace: 'foo' },
      spec: { selector: { matchLabels: { app: 'httpbin' } }, action, rules },
    },
    source: { file: 'spec', line: counter },
    dryRun: false,
  };
}
/** A DENY policy with one rule: does it deny the request? */
const denies = (rule: PolicyRule, r: RequestAttributes) => {
  const d = compilePolicySet([policyOf('DENY', [rule])], {}, 1).evaluate(WORKLOAD, r);
  expect(d.code).toBe(d.allowed ? 'no_allow_policy' : 'deny_matched');
  return !d.allowed;
};

interface FieldCase {
  /** The positive field; its not-form is `not` + capitalized name. */
  readonly field: keyof PolicySource | keyof PolicyOperation;
  readonly kind: 'source' | 'operation';
  readonly values: readonly string[];
  readonly reads: AttributeName;
  readonly match: RequestAttributes;
  readonly miss: RequestAttributes;
  /** The request without the attribute (no peer, no token, empty value). */
  readonly absent: RequestAttributes;
}

const user1 = user(ISS, 'alice');
const CASES: readonly FieldCase[] = [
  {
    field: 'principals',
    kind: 'source',
    values: ['cluster.local/ns/a/sa/x'],
    reads: 'peer',
    match: req({ peer: A_X }),
    miss: req({ peer: B_Y }),
    absent: req({ peer: null }),
  },
  {
    field: 'serviceAccounts',
    kind: 'source',
    values: ['ops/deployer'],
    reads: 'peer',
    match: req({ peer: OPS_DEPLOYER }),
    miss: req({ peer: FOO_DEPLOYER }),
    absent: req({ peer: null }),
  },
  {
    field: 'trustDomains',
    kind: 'source',
    values: ['other.example'],
    reads: 'peer',
    match: req({ peer: peer('spiffe://other.example/ns/a/sa/x') }),
    miss: req({ peer: A_X }),
    absent: req({ peer: null }),
  },
  {
    field: 'namespaces',
    kind: 'source',
    values: ['a'],
    reads: 'peer',
    match: req({ peer: A_X }),
    miss: req({ peer: B_Y }),
    absent: req({ peer: null }),
  },
  {
    field: 'requestPrincipals',
    kind: 'source',
    values: [`${ISS}/alice`],
    reads: 'user',
    match: req({ user: user1 }),
    miss: req({ user: user(ISS, 'bob') }),
    absent: req({ user: null }),
  },
  {
    field: 'ipBlocks',
    kind: 'source',
    values: ['10.0.0.0/8'],
    reads: 'sourceIp',
    // remote.ip on the other side each time: the check must read the direct peer's address.
    match: req({ sourceIp: '10.1.2.3', remoteIp: '192.168.0.1' }),
    miss: req({ sourceIp: '192.168.0.1', remoteIp: '10.1.2.3' }),
    absent: req({ sourceIp: '', remoteIp: '10.1.2.3' }),
  },
  {
    field: 'remoteIpBlocks',
    kind: 'source',
    values: ['10.0.0.0/8'],
    reads: 'remoteIp',
    match: req({ remoteIp: '10.1.2.3', sourceIp: '192.168.0.1' }),
    miss: req({ remoteIp: '192.168.0.1', sourceIp: '10.1.2.3' }),
    absent: req({ remoteIp: '', sourceIp: '10.1.2.3' }),
  },
  {
    field: 'hosts',
    kind: 'operation',
    values: ['api.example.com'],
    reads: 'host',
    match: req({ host: 'API.example.com' }),
    miss: req({ host: 'web.example.com' }),
    absent: req({ host: '' }),
  },
  {
    field: 'ports',
    kind: 'operation',
    values: ['8080'],
    reads: 'destinationPort',
    match: req({ destinationPort: 8080 }),
    miss: req({ destinationPort: 9090 }),
    absent: req({ destinationPort: 0 }),
  },
  {
    field: 'methods',
    kind: 'operation',
    values: ['GET'],
    reads: 'method',
    match: req({ method: 'GET' }),
    miss: req({ method: 'get' }),
    absent: req({ method: '' }),
  },
  {
    field: 'paths',
    kind: 'operation',
    values: ['/api'],
    reads: 'path',
    match: req({ path: '/api' }),
    miss: req({ path: '/api/x' }),
    absent: req({ path: '' }),
  },
];

const notField = (f: string) => `not${f[0]!.toUpperCase()}${f.slice(1)}`;
const compileField = (c: FieldCase, field: string, values: readonly string[]) =>
  c.kind === 'source' ? source({ [field]: values }) : operation({ [field]: values });
const ruleWith = (c: FieldCase, field: string): PolicyRule =>
  c.kind === 'source' ? { from: [{ source: { [field]: c.values } }] } : { to: [{ operation: { [field]: c.values } }] };

describe.each(CASES)('$field', (c) => {
  const neg = notField(c.field);
  const prefix = c.kind === 'source' ? 'src' : 'op';

  it(`${c.field} matches a request that has a listed value, and reports reading ${c.reads}`, () => {
    const checks = compileField(c, c.field, c.values);
    expect(checks.map((k) => [k.field, k.at, k.reads, k.values, k.notValues])).toEqual([
      [c.field, `${prefix}.${c.field}`, c.reads, c.values, []],
    ]);
    expect(holds(checks, c.match)).toBe(true);
  });

  it(`${c.field} does not match a request with another value`, () => {
    expect(holds(compileField(c, c.field, c.values), c.miss)).toBe(false);
  });

  it(`${c.field} never matches a request without the attribute`, () => {
    expect(holds(compileField(c, c.field, c.values), c.absent)).toBe(false);
  });

  it(`${neg} fails a request that has a listed value and passes one with another value or none`, () => {
    const checks = compileField(c, neg, c.values);
    expect(checks.map((k) => [k.field, k.at, k.reads, k.values, k.notValues])).toEqual([
      [neg, `${prefix}.${neg}`, c.reads, [], c.values],
    ]);
    expect(holds(checks, c.match)).toBe(false);
    expect(holds(checks, c.miss)).toBe(true);
    expect(holds(checks, c.absent)).toBe(true);
  });

  it(`DENY ${neg}: denies everything except the listed value (including requests without the attribute)`, () => {
    const rule = ruleWith(c, neg);
    expect(denies(rule, c.match)).toBe(false);
    expect(denies(rule, c.miss)).toBe(true);
    // An empty path cannot be normalized: the set refuses it as an invalid request before any rule runs.
    if (c.field !== 'paths') expect(denies(rule, c.absent)).toBe(true);
  });

  it(`DENY ${c.field}: denies the listed value only`, () => {
    const rule = ruleWith(c, c.field);
    expect(denies(rule, c.match)).toBe(true);
    expect(denies(rule, c.miss)).toBe(false);
    if (c.field !== 'paths') expect(denies(rule, c.absent)).toBe(false);
  });
});

describe('check', () => {
  it('a field with neither values nor notValues constrains nothing (the validator rejects such a field)', () => {
    expect(check('f', 'at', [], [], 'peer', null, null).test(req(), '/')).toBe(true);
  });

  it('values and notValues together: the positive probe must hold and the negative one must not', () => {
    const yes = () => true;
    const no = () => false;
    expect(check('f', 'at', ['v'], ['n'], 'peer', yes, no).test(req(), '/')).toBe(true);
    expect(check('f', 'at', ['v'], ['n'], 'peer', yes, yes).test(req(), '/')).toBe(false);
    expect(check('f', 'at', ['v'], ['n'], 'peer', no, no).test(req(), '/')).toBe(false);
    expect(check('f', 'at', [], ['n'], 'peer', null, no).test(req(), '/')).toBe(true);
    expect(check('f', 'at', [], ['n'], 'peer', null, yes).test(req(), '/')).toBe(false);
  });
});

describe('principals', () => {
  it('principals forms: exact, prefix, suffix and "*" compare against the full SPIFFE ID', () => {
    const t = (values: string[], p: RequestAttributes['peer']) =>
      holds(source({ principals: values }), req({ peer: p }));
    expect(t(['cluster.local/ns/a/*'], A_X)).toBe(true);
    expect(t(['cluster.local/ns/a/*'], B_Y)).toBe(false);
    expect(t(['*/sa/y'], B_Y)).toBe(true);
    expect(t(['*/sa/y'], A_X)).toBe(false);
    expect(t(['*'], A_X)).toBe(true);
    expect(t(['*'], null)).toBe(false);
    // The `spiffe://` scheme is not part of a principal value.
    expect(t(['spiffe://cluster.local/ns/a/sa/x'], A_X)).toBe(false);
  });

  it('principals written for cluster.local also match the same path in the local trust domain and its aliases', () => {
    const options = resolveCompileOptions({ trustDomain: 'td.example', trustDomainAliases: ['old.example'] });
    const checks = compileSource({ principals: ['cluster.local/ns/a/sa/x'] }, 'src', 'foo', options);
    expect(holds(checks, req({ peer: peer('spiffe://td.example/ns/a/sa/x') }))).toBe(true);
    expect(holds(checks, req({ peer: peer('spiffe://old.example/ns/a/sa/x') }))).toBe(true);
    expect(holds(checks, req({ peer: peer('spiffe://evil.example/ns/a/sa/x') }))).toBe(false);
  });

  it('exact principals are handed to the index as full SPIFFE IDs; any wildcard keeps the rule out of it', () => {
    expect(source({ principals: ['cluster.local/ns/a/sa/x', 'cluster.local/ns/b/sa/y'] })[0]!.exactPrincipals).toEqual([
      'spiffe://cluster.local/ns/a/sa/x',
      'spiffe://cluster.local/ns/b/sa/y',
    ]);
    expect(source({ principals: ['cluster.local/ns/a/sa/x', 'cluster.local/ns/b/*'] })[0]!.exactPrincipals).toBe(
      undefined,
    );
    expect(source({ principals: ['*'] })[0]!.exactPrincipals).toBe(undefined);
    expect(source({ notPrincipals: ['cluster.local/ns/a/sa/x'] })[0]!.exactPrincipals).toBe(undefined);
  });

  it('serviceAccounts: a bare name is a service account of the policy namespace', () => {
    const checks = source({ serviceAccounts: ['deployer'] });
    expect(holds(checks, req({ peer: FOO_DEPLOYER }))).toBe(true);
    expect(holds(checks, req({ peer: OPS_DEPLOYER }))).toBe(false);
    expect(holds(checks, req({ peer: null }))).toBe(false);
    const ops = source({ serviceAccounts: ['ops/deployer'] });
    expect(holds(ops, req({ peer: peer('spiffe://cluster.local/ns/ops/sa/other') }))).toBe(false);
  });
});

describe('serviceAccounts path forms (any trust domain)', () => {
  const t = (id: string) => holds(source({ serviceAccounts: ['ops/deployer'] }), req({ peer: peer(id) }));

  it('serviceAccounts match ns/<ns>/sa/<sa> in any trust domain, with path parts between or after', () => {
    expect(t('spiffe://other.example/ns/ops/sa/deployer')).toBe(true);
    expect(t('spiffe://td/ns/ops/x/sa/deployer')).toBe(true);
    expect(t('spiffe://td/ns/ops/sa/deployer/extra')).toBe(true);
  });

  it('serviceAccounts never match a longer name, a glued segment, an empty trust domain or a trailing slash', () => {
    expect(t('spiffe://td/ns/ops/sa/deployerx')).toBe(false);
    expect(t('spiffe://td/ns/ops/xsa/deployer')).toBe(false);
    expect(t('spiffe://td/ns/ops//sa/deployer')).toBe(false);
    expect(t('spiffe:///ns/ops/sa/deployer')).toBe(false);
    expect(t('spiffe://td/ns/ops/sa/deployer/')).toBe(false);
    expect(t('spiffe://td/ns/opsx/sa/deployer')).toBe(false);
    expect(t('spiffex://td/ns/ops/sa/deployer')).toBe(false);
    expect(t('spiffe://td/ns/other/sa/deployer/ns/ops/sa/deployer')).toBe(true);
  });

  it('a path part between namespace and service account must end in "/": a segment merely ending in "sa" is glued', () => {
    // `(.+/|)sa/<sa>`: `xxsa/deployer` has two characters before `sa/` but no `/`, so it is not `.../sa/deployer`.
    expect(t('spiffe://td/ns/ops/xxsa/deployer')).toBe(false);
    expect(t('spiffe://td/ns/ops/team-sa/deployer')).toBe(false);
    expect(t('spiffe://td/ns/ops/xx/sa/deployer')).toBe(true);
  });
});

describe('namespaces', () => {
  it('namespaces: a value names a whole path segment, not a prefix of one', () => {
    const checks = source({ namespaces: ['a'] });
    expect(holds(checks, req({ peer: peer('spiffe://cluster.local/ns/ab/sa/x') }))).toBe(false);
    expect(holds(source({ namespaces: ['a*'] }), req({ peer: peer('spiffe://cluster.local/ns/ab/sa/x') }))).toBe(true);
  });

  it('DENY notNamespaces: a plaintext request (no peer) is denied, as Istio documents for "deny plaintext"', () => {
    expect(denies({ from: [{ source: { notNamespaces: ['a', 'b'] } }] }, req({ peer: null }))).toBe(true);
    expect(denies({ from: [{ source: { notNamespaces: ['a', 'b'] } }] }, req({ peer: B_Y }))).toBe(false);
  });
});

describe('requestPrincipals', () => {
  it('requestPrincipals "*" needs a token with both a non-empty issuer and a non-empty subject', () => {
    const any = requestPrincipalTest(['*']);
    expect(any(req({ user: user1 }), '')).toBe(true);
    expect(any(req({ user: user(ISS, '') }), '')).toBe(false);
    expect(any(req({ user: user('', 'alice') }), '')).toBe(false);
    expect(any(req({ user: null }), '')).toBe(false);
  });

  it('requestPrincipals "<iss>/*" matches any subject of that issuer only', () => {
    const t = requestPrincipalTest([`${ISS}/*`]);
    expect(t(req({ user: user(ISS, 'bob') }), '')).toBe(true);
    expect(t(req({ user: user('https://other.example.com', 'bob') }), '')).toBe(false);
    expect(t(req({ user: user(ISS, '') }), '')).toBe(false);
  });

  it('requestPrincipals with exact values does not let in every authenticated user', () => {
    const t = requestPrincipalTest([`${ISS}/alice`, `${ISS}/carol`]);
    expect(t(req({ user: user(ISS, 'carol') }), '')).toBe(true);
    expect(t(req({ user: user(ISS, 'bob') }), '')).toBe(false);
    expect(t(req({ user: user('https://other.example.com', 'alice') }), '')).toBe(false);
    // An issuer-wildcard next to exact values: other issuers' users still need an exact match.
    const mixed = requestPrincipalTest([`${ISS}/*`, 'https://other.example.com/alice']);
    expect(mixed(req({ user: user('https://other.example.com', 'alice') }), '')).toBe(true);
    expect(mixed(req({ user: user('https://other.example.com', 'bob') }), '')).toBe(false);
  });

  it('requestPrincipals split at the last "/": each form matches issuer and subject separately', () => {
    const t = (value: string, iss: string, sub: string) =>
      requestPrincipalTest([value])(req({ user: user(iss, sub) }), '');
    const OTHER = 'https://other.example.com';
    // `*/sub`: any issuer, exact subject.
    expect(t('*/alice', OTHER, 'alice')).toBe(true);
    expect(t('*/alice', OTHER, 'alice2')).toBe(false);
    // `*/sub` needs a non-empty issuer (Istio's `.+`), as `*` alone does: an empty issuer is not "any issuer".
    expect(t('*/alice', '', 'alice')).toBe(false);
    // Prefix forms compare the whole prefix, not its first character.
    expect(t(`${ISS}/al*`, ISS, 'axe')).toBe(false);
    expect(t('acme*', 'acme-idp', 'x')).toBe(true);
    expect(t('acme*', 'abc', 'x')).toBe(false);
    // `*suffix/sub`: issuer suffix, exact subject.
    expect(t('*.example.com/alice', ISS, 'alice')).toBe(true);
    expect(t('*.example.com/alice', 'https://evil.org', 'alice')).toBe(false);
    expect(t('*.example.com/alice', ISS, 'bob')).toBe(false);
    // `*suffix` without a `/`: any issuer, subject suffix.
    expect(t('*lice', ISS, 'alice')).toBe(true);
    expect(t('*lice', ISS, 'bob')).toBe(false);
    // `iss/prefix*`: exact issuer, subject prefix.
    expect(t(`${ISS}/al*`, ISS, 'alice')).toBe(true);
    expect(t(`${ISS}/al*`, ISS, 'bob')).toBe(false);
    expect(t(`${ISS}/al*`, OTHER, 'alice')).toBe(false);
    // `prefix*` without a `/`: issuer prefix, any subject.
    expect(t('issuer*', 'issuer-a', 'x')).toBe(true);
    expect(t('issuer*', 'other', 'x')).toBe(false);
    expect(t('issuer*', 'issuer-a', '')).toBe(false);
    // No `/` and no `*`: the value is the whole issuer and the subject must be empty (Istio's `iss/` with no sub).
    expect(t('alice', 'alice', 'x')).toBe(false);
    expect(t('alice', 'alice', '')).toBe(true);
    expect(t('alice', 'alicex', '')).toBe(false);
    // A leading `/` leaves an empty issuer part: it matches no token with an issuer, even one starting with `/`.
    expect(t('/*', '/idp', 'alice')).toBe(false);
    expect(t('/alice', '/idp', 'alice')).toBe(false);
    // A prefix or suffix never crosses the issuer/subject boundary.
    expect(t(`${ISS}/*`, ISS, 'x')).toBe(true);
    expect(t('https://issuer.example.com/al*', 'https://issuer.example.com/al', 'x')).toBe(false);
  });

  it('DENY notRequestPrincipals ["*"]: a request without a token is denied, one with a token is not', () => {
    const rule: PolicyRule = { from: [{ source: { notRequestPrincipals: ['*'] } }] };
    expect(denies(rule, req({ user: null }))).toBe(true);
    expect(denies(rule, req({ user: user(ISS, '') }))).toBe(true);
    expect(denies(rule, req({ user: user1 }))).toBe(false);
  });
});

describe('operations', () => {
  it('hosts compare case-insensitively in both directions, and prefix/suffix forms work', () => {
    expect(holds(operation({ hosts: ['API.Example.com'] }), req({ host: 'api.example.com' }))).toBe(true);
    expect(holds(operation({ hosts: ['*.example.com'] }), req({ host: 'A.EXAMPLE.COM' }))).toBe(true);
    expect(holds(operation({ hosts: ['*.example.com'] }), req({ host: 'example.org' }))).toBe(false);
  });

  it('paths compare the normalized path handed to the check, not the raw one', () => {
    const checks = operation({ paths: ['/admin'] });
    expect(holds(checks, req({ path: '/a/../admin' }), '/admin')).toBe(true);
    expect(holds(checks, req({ path: '/admin' }), '/other')).toBe(false);
  });

  it('exact paths are handed to the index; a wildcard or template keeps the rule out of it', () => {
    expect(operation({ paths: ['/a', '/b'] })[0]!.exactPaths).toEqual(['/a', '/b']);
    expect(operation({ paths: ['/a', '/b/*'] })[0]!.exactPaths).toBe(undefined);
    expect(operation({ paths: ['/a', '/b/{*}'] })[0]!.exactPaths).toBe(undefined);
    expect(operation({ notPaths: ['/a'] })[0]!.exactPaths).toBe(undefined);
  });

  it('ports compare as numbers', () => {
    expect(holds(operation({ ports: ['80', '8080'] }), req({ destinationPort: 80 }))).toBe(true);
    expect(holds(operation({ ports: ['80', '8080'] }), req({ destinationPort: 8081 }))).toBe(false);
  });

  it('fields of one operation are ANDed; an empty clause matches everything', () => {
    const checks = operation({ methods: ['GET'], paths: ['/a'] });
    expect(holds(checks, req({ method: 'GET', path: '/a' }))).toBe(true);
    expect(holds(checks, req({ method: 'POST', path: '/a' }))).toBe(false);
    expect(holds(checks, req({ method: 'GET', path: '/b' }))).toBe(false);
    expect(operation({})).toEqual([]);
    expect(source({})).toEqual([]);
  });

  it('each check names where it is in the policy', () => {
    expect(source({ principals: ['a'], notIpBlocks: ['10.0.0.0/8'] }).map((c) => c.at)).toEqual([
      'src.principals',
      'src.notIpBlocks',
    ]);
    expect(operation({ notMethods: ['GET'] })[0]!.at).toBe('op.notMethods');
  });
});

describe('the principal index over pooled DENY rules', () => {
  // Eight or more pooled rules switch the plan to Map lookups (plan.ts INDEX_THRESHOLD); a wrong key would make a
  // DENY rule unfindable and so let its caller in.
  const principalRules = (n: number): PolicyRule[] =>
    Array.from({ length: n }, (_, i) => ({ from: [{ source: { principals: [`cluster.local/ns/n${i}/sa/s`] } }] }));

  it('exact-principal DENY rules still deny their callers once 8+ rules are pooled in one or several policies', () => {
    for (const policies of [
      [policyOf('DENY', principalRules(10))],
      [policyOf('DENY', principalRules(5)), policyOf('DENY', principalRules(10).slice(5))],
    ]) {
      const set = compilePolicySet(policies, {}, 1);
      for (let i = 0; i < 10; i++) {
        const d = set.evaluate(WORKLOAD, req({ peer: peer(`spiffe://cluster.local/ns/n${i}/sa/s`) }));
        expect(d.code).toBe('deny_matched');
      }
      expect(set.evaluate(WORKLOAD, req({ peer: peer('spiffe://cluster.local/ns/n1/sa/t') })).allowed).toBe(true);
      expect(set.evaluate(WORKLOAD, req({ peer: null })).allowed).toBe(true);
    }
  });

  it('a pooled DENY rule mixing exact and wildcard principals denies callers matched by the wildcard', () => {
    const rules = [
      ...principalRules(8),
      { from: [{ source: { principals: ['cluster.local/ns/z/sa/s', 'cluster.local/ns/w/*'] } }] },
    ];
    const set = compilePolicySet([policyOf('DENY', rules)], {}, 1);
    const d = set.evaluate(WORKLOAD, req({ peer: peer('spiffe://cluster.local/ns/w/sa/any') }));
    expect([d.code, d.ruleIndex]).toEqual(['deny_matched', 8]);
  });

  it('pooled exact-path DENY rules still deny their paths', () => {
    const rules: PolicyRule[] = Array.from({ length: 9 }, (_, i) => ({ to: [{ operation: { paths: [`/p${i}`] } }] }));
    const set = compilePolicySet([policyOf('DENY', rules)], {}, 1);
    expect(set.evaluate(WORKLOAD, req({ path: '/p7' })).ruleIndex).toBe(7);
    expect(set.evaluate(WORKLOAD, req({ path: '/p9' })).allowed).toBe(true);
  });
});

describe('serviceAccountMatches: spiffe://.+<ns>(.+/|)<sa>(/.+)? as a full match', () => {
  const NS = '/ns/ns1/';
  it('the service account must end the ID or be followed by "/" and more: sa/b is not sa/bc', () => {
    expect(serviceAccountMatches('spiffe://td/ns/ns1/sa/b', NS, 'sa/b')).toBe(true);
    expect(serviceAccountMatches('spiffe://td/ns/ns1/sa/bc', NS, 'sa/b')).toBe(false);
    // A longer name that starts with the wanted one (`b-canary` is not `b`), with or without more path after it.
    expect(serviceAccountMatches('spiffe://td/ns/ns1/sa/b-canary', NS, 'sa/b')).toBe(false);
    expect(serviceAccountMatches('spiffe://td/ns/ns1/sa/b-canary/x', NS, 'sa/b')).toBe(false);
    expect(serviceAccountMatches('spiffe://td/ns/ns1/sa/b/x', NS, 'sa/b')).toBe(true);
    expect(serviceAccountMatches('spiffe://td/ns/ns1/sa/b/', NS, 'sa/b')).toBe(false);
  });

  it('between the namespace and the service account: nothing, or at least one character and "/"', () => {
    expect(serviceAccountMatches('spiffe://td/ns/ns1/x/sa/b', NS, 'sa/b')).toBe(true);
    expect(serviceAccountMatches('spiffe://td/ns/ns1/xsa/b', NS, 'sa/b')).toBe(false);
    expect(serviceAccountMatches('spiffe://td/ns/ns1//sa/b', NS, 'sa/b')).toBe(false);
  });

  it('needs a trust domain and the spiffe scheme', () => {
    expect(serviceAccountMatches('spiffe:///ns/ns1/sa/b', NS, 'sa/b')).toBe(false);
    expect(serviceAccountMatches('http://td/ns/ns1/sa/b', NS, 'sa/b')).toBe(false);
  });
});
