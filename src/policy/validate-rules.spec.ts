import { describe, expect, it } from 'vitest';
import { validatePolicy } from './validate.js';
import { conditionKeyProblem } from './validate-rules.js';

/**
 * Both sides of every rule istiod applies to `spec.rules` (from, to, when): each refusal has an accepted neighbour,
 * so a rule can be neither dropped (a bad policy loaded and evaluated) nor widened (a valid policy refused).
 * Sources: istio/istio 1.30.3 `pkg/config/validation/validation.go` (ValidateAuthorizationPolicy),
 * `pkg/config/security/security.go` (ValidateAttribute, ValidatePorts, ValidateIPs, CheckServiceAccount,
 * CheckWildcardValues, CheckTrustDomainValues, CheckEmptyValues); istio/istio
 * `manifests/charts/base/files/crd-all.gen.yaml` (AuthorizationPolicy schema: maxItems, the serviceAccounts CEL rule).
 * Errors are compared exactly ([code, path] of every error), so a mutant that adds or loses an error is seen too.
 */

type Spec = Record<string, unknown>;

function errors(spec: Spec): [string, string][] {
  const doc = {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'p', namespace: 'foo' },
    spec,
  };
  return validatePolicy(doc, null)
    .filter((i) => i.severity === 'error')
    .map((i) => [i.code, i.path]);
}

const R = 'spec.rules[0]';
const rules = (...r: unknown[]): Spec => ({ rules: r });
const from = (source: unknown, action = 'ALLOW', provider?: string): Spec => ({
  action,
  ...(provider ? { provider: { name: provider } } : {}),
  rules: [{ from: [{ source }] }],
});
const to = (operation: unknown): Spec => rules({ to: [{ operation }] });
const when = (cond: unknown, action = 'ALLOW', provider?: string): Spec => ({
  action,
  ...(provider ? { provider: { name: provider } } : {}),
  rules: [{ when: [cond] }],
});
const SRC = `${R}.from[0].source`;
/** The source fields that name an identity (written out here on purpose: the test's list is the oracle). */
const IDENTITY_FIELDS = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
  'serviceAccounts',
  'notServiceAccounts',
  'trustDomains',
  'notTrustDomains',
];
const OP = `${R}.to[0].operation`;
const W = `${R}.when[0]`;

describe('rules: shape and limits (CRD maxItems 512)', () => {
  it('rules must be a list of mappings', () => {
    expect(errors({ rules: { from: [] } })).toEqual([['schema', 'spec.rules']]);
    expect(errors({ rules: 'x' })).toEqual([['schema', 'spec.rules']]);
    expect(errors(rules('x'))).toEqual([['schema', R]]);
    expect(errors(rules(null))).toEqual([['schema', R]]);
    expect(errors(rules([]))).toEqual([['schema', R]]);
    expect(errors(rules({}))).toEqual([]);
    expect(errors(rules({}, { froms: [] }))).toEqual([['unknown_field', 'spec.rules[1].froms']]);
  });

  it('accepts 512 rules and refuses 513', () => {
    expect(errors({ rules: Array.from({ length: 512 }, () => ({})) })).toEqual([]);
    expect(errors({ rules: Array.from({ length: 513 }, () => ({})) })).toEqual([['limit_exceeded', 'spec.rules']]);
  });

  it('accepts 512 from entries and refuses 513; to has no limit in the CRD', () => {
    const src = { source: { namespaces: ['a'] } };
    expect(errors(rules({ from: Array.from({ length: 512 }, () => src) }))).toEqual([]);
    expect(errors(rules({ from: Array.from({ length: 513 }, () => src) }))).toEqual([['limit_exceeded', `${R}.from`]]);
    const op = { operation: { methods: ['GET'] } };
    expect(errors(rules({ to: Array.from({ length: 513 }, () => op) }))).toEqual([]);
  });

  it('from, to and when set to null are the same as absent', () => {
    expect(errors(rules({ from: null, to: null, when: null }))).toEqual([]);
  });

  it('from and to must be non-empty lists of mappings holding source / operation', () => {
    expect(errors(rules({ from: [] }))).toEqual([['empty_value', `${R}.from`]]);
    expect(errors(rules({ to: [] }))).toEqual([['empty_value', `${R}.to`]]);
    expect(errors(rules({ from: { source: { namespaces: ['a'] } } }))).toEqual([['schema', `${R}.from`]]);
    expect(errors(rules({ to: 'x' }))).toEqual([['schema', `${R}.to`]]);
    expect(errors(rules({ from: ['a'] }))).toEqual([['schema', `${R}.from[0]`]]);
    expect(errors(rules({ from: [{}] }))).toEqual([['missing_field', `${R}.from[0].source`]]);
    expect(errors(rules({ to: [{ operation: null }] }))).toEqual([['missing_field', `${R}.to[0].operation`]]);
    expect(errors(rules({ from: [{ source: ['a'] }] }))).toEqual([['missing_field', SRC]]);
    // A `from` entry holding an operation (or the reverse) is a typo, not an empty match.
    expect(errors(rules({ from: [{ operation: { methods: ['GET'] } }] }))).toEqual([
      ['unknown_field', `${R}.from[0].operation`],
      ['missing_field', SRC],
    ]);
    expect(errors(rules({ to: [{ operation: { methods: ['GET'] }, source: {} }] }))).toEqual([
      ['unknown_field', `${R}.to[0].source`],
    ]);
  });

  it('an empty source or operation is refused; one set field makes it valid', () => {
    expect(errors(from({}))).toEqual([['empty_value', SRC]]);
    expect(errors(to({}))).toEqual([['empty_value', OP]]);
    // Empty and null lists do not count as set (CheckEmptyValues + the "must not be empty" rule).
    expect(errors(from({ principals: [], namespaces: null }))).toEqual([['empty_value', SRC]]);
    expect(errors(from({ principals: [], namespaces: ['a'] }))).toEqual([]);
    expect(errors(to({ methods: ['GET'] }))).toEqual([]);
    // A field that failed its own check does not count either, so the source is also reported empty.
    expect(errors(from({ principals: 'a' }))).toEqual([
      ['schema', `${SRC}.principals`],
      ['empty_value', SRC],
    ]);
    expect(errors(from({ principal: ['a'] }))).toEqual([
      ['unknown_field', `${SRC}.principal`],
      ['empty_value', SRC],
    ]);
  });

  it('source fields are not operation fields and the reverse', () => {
    expect(errors(to({ principals: ['a'], methods: ['GET'] }))).toEqual([['unknown_field', `${OP}.principals`]]);
    expect(errors(from({ methods: ['GET'], namespaces: ['a'] }))).toEqual([['unknown_field', `${SRC}.methods`]]);
    // The serviceAccounts/principals exclusion belongs to source: unknown fields in an operation do not trigger it.
    expect(errors(to({ serviceAccounts: ['a'], principals: ['b'], methods: ['GET'] }))).toEqual([
      ['unknown_field', `${OP}.serviceAccounts`],
      ['unknown_field', `${OP}.principals`],
    ]);
  });

  it('accepts every source and operation field with a plain value', () => {
    for (const f of IDENTITY_FIELDS) {
      expect(errors(from({ [f]: ['a'] })), f).toEqual([]);
    }
    for (const f of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) {
      expect(errors(from({ [f]: ['10.0.0.0/8'] })), f).toEqual([]);
    }
    for (const f of ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths']) {
      expect(errors(to({ [f]: ['/a'] })), f).toEqual([]);
    }
    expect(errors(to({ ports: ['80'], notPorts: ['81'] }))).toEqual([]);
  });
});

describe('values: strings, never empty (CheckEmptyValues)', () => {
  it('refuses a non-list, a non-string item and an empty string, each at its index', () => {
    expect(errors(to({ methods: 'GET' }))).toEqual([
      ['schema', `${OP}.methods`],
      ['empty_value', OP],
    ]);
    expect(errors(to({ methods: ['GET', 7, ''] }))).toEqual([
      ['schema', `${OP}.methods[1]`],
      ['empty_value', `${OP}.methods[2]`],
      ['empty_value', OP],
    ]);
    expect(errors(to({ methods: [''], paths: ['/a'] }))).toEqual([['empty_value', `${OP}.methods[0]`]]);
    expect(errors(to({ methods: [7], paths: ['/a'] }))).toEqual([['schema', `${OP}.methods[0]`]]);
    // A list with a non-string is refused as a whole: its values never reach the per-field checks (which read text).
    expect(errors(to({ paths: [7] }))).toEqual([
      ['schema', `${OP}.paths[0]`],
      ['empty_value', OP],
    ]);
    expect(errors(from({ serviceAccounts: [{}] }))).toEqual([
      ['schema', `${SRC}.serviceAccounts[0]`],
      ['empty_value', SRC],
    ]);
  });
});

describe('field values checked per field', () => {
  it('IP blocks must parse, in all four IP fields, and only there', () => {
    for (const f of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) {
      expect(errors(from({ [f]: ['10.0.0.1', '10.0.0.0/33'] })), f).toEqual([['invalid_ip', `${SRC}.${f}[1]`]]);
      expect(errors(from({ [f]: ['10.0.0.1', 'fd00::/8'] })), f).toEqual([]);
    }
    expect(errors(from({ principals: ['not-an-ip'] }))).toEqual([]);
  });

  it('ports are decimal 0-65535, in ports and notPorts, and only there', () => {
    for (const f of ['ports', 'notPorts']) {
      expect(errors(to({ [f]: ['0', '65535', '8080'] })), f).toEqual([]);
      for (const bad of ['65536', '123456', '-1', '80a', 'a80', ' 80', '8.0', 'http']) {
        expect(errors(to({ [f]: ['80', bad] })), `${f} ${bad}`).toEqual([['invalid_port', `${OP}.${f}[1]`]]);
      }
    }
    expect(errors(to({ hosts: ['a80'], methods: ['65536'] }))).toEqual([]);
  });

  it('path templates are checked in paths and notPaths, and only there', () => {
    for (const f of ['paths', 'notPaths']) {
      expect(errors(to({ [f]: ['/a/{*}', '/a/{**}/{*}'] })), f).toEqual([['invalid_path_template', `${OP}.${f}[1]`]]);
      expect(errors(to({ [f]: ['/a/{*}/b', '/a/{**}'] })), f).toEqual([]);
    }
    expect(errors(to({ hosts: ['/a/{**}/{*}'] }))).toEqual([]);
  });

  it('service accounts: ns/sa or sa, no wildcard, at most 16 of at most 320 characters', () => {
    for (const f of ['serviceAccounts', 'notServiceAccounts']) {
      expect(errors(from({ [f]: ['sa', 'ns/sa'] })), f).toEqual([]);
      for (const bad of ['ns/*', '*', 'a/b/c', '/sa', 'ns/', 'ns//sa']) {
        expect(errors(from({ [f]: ['ok', bad] })), `${f} ${bad}`).toEqual([['invalid_value', `${SRC}.${f}[1]`]]);
      }
      expect(errors(from({ [f]: [`ns/${'s'.repeat(317)}`] })), f).toEqual([]);
      expect(errors(from({ [f]: [`ns/${'s'.repeat(318)}`] })), f).toEqual([['limit_exceeded', `${SRC}.${f}[0]`]]);
      const many = (n: number) => Array.from({ length: n }, (_, i) => `ns/sa${i}`);
      expect(errors(from({ [f]: many(16) })), f).toEqual([]);
      expect(errors(from({ [f]: many(17) })), f).toEqual([['limit_exceeded', `${SRC}.${f}`]]);
    }
    // Other fields take any text.
    expect(errors(from({ principals: ['a/b/c*'], namespaces: ['*'] }))).toEqual([]);
  });

  it('trust domains: at most one wildcard at an end, no /, in trustDomains and notTrustDomains only', () => {
    for (const f of ['trustDomains', 'notTrustDomains']) {
      expect(errors(from({ [f]: ['td', '*', 'td*', '*td'] })), f).toEqual([]);
      for (const bad of ['t*d', '*td*', 'td/x']) {
        expect(errors(from({ [f]: ['td', bad] })), `${f} ${bad}`).toEqual([['invalid_value', `${SRC}.${f}[1]`]]);
      }
    }
    expect(errors(from({ namespaces: ['t*d', 'a/b'] }))).toEqual([]);
  });

  it('serviceAccounts cannot be combined with principals or namespaces (either form of each)', () => {
    for (const sa of ['serviceAccounts', 'notServiceAccounts']) {
      for (const other of ['principals', 'notPrincipals', 'namespaces', 'notNamespaces']) {
        expect(errors(from({ [sa]: ['ns/sa'], [other]: ['x'] })), `${sa}+${other}`).toEqual([['invalid_value', SRC]]);
        // An empty list is not set (istiod counts len > 0).
        expect(errors(from({ [sa]: ['ns/sa'], [other]: [] })), `${sa}+empty ${other}`).toEqual([]);
        expect(errors(from({ [sa]: [], [other]: ['x'] })), `empty ${sa}+${other}`).toEqual([]);
      }
      expect(errors(from({ [sa]: ['ns/sa'], requestPrincipals: ['x'], ipBlocks: ['1.2.3.4'] }))).toEqual([]);
    }
  });
});

describe('CUSTOM: no identity fields or keys (the provider, not the proxy, decides)', () => {
  it('refuses each identity source field on CUSTOM, accepts it on ALLOW, DENY and AUDIT', () => {
    for (const f of IDENTITY_FIELDS) {
      expect(errors(from({ [f]: ['a'] }, 'CUSTOM', 'ext')), f).toEqual([['custom_identity_field', `${SRC}.${f}`]]);
      for (const action of ['ALLOW', 'DENY', 'AUDIT']) expect(errors(from({ [f]: ['a'] }, action)), f).toEqual([]);
    }
    // An empty identity list sets nothing: only the empty source is reported.
    expect(errors(from({ principals: [] }, 'CUSTOM', 'ext'))).toEqual([['empty_value', SRC]]);
  });

  it('accepts the IP fields and operations on CUSTOM', () => {
    for (const f of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) {
      expect(errors(from({ [f]: ['10.0.0.0/8'] }, 'CUSTOM', 'ext')), f).toEqual([]);
    }
    expect(
      errors({ action: 'CUSTOM', provider: { name: 'ext' }, rules: [{ to: [{ operation: { paths: ['/a'] } }] }] }),
    ).toEqual([]);
  });

  it('refuses the identity condition keys on CUSTOM, accepts the others', () => {
    for (const key of [
      'source.namespace',
      'source.principal',
      'source.serviceAccount',
      'source.trustDomain',
      'request.auth.principal',
      'request.auth.audiences',
      'request.auth.presenter',
      'request.auth.claims[iss]',
    ]) {
      expect(errors(when({ key, values: ['a'] }, 'CUSTOM', 'ext')), key).toEqual([
        ['custom_identity_field', `${W}.key`],
      ]);
      expect(errors(when({ key, values: ['a'] }, 'DENY')), key).toEqual([]);
    }
    for (const key of ['source.ip', 'remote.ip', 'destination.ip', 'request.headers[x-a]', 'connection.sni']) {
      const v = key.endsWith('.ip') ? '10.0.0.1' : 'a';
      expect(errors(when({ key, values: [v] }, 'CUSTOM', 'ext')), key).toEqual([]);
    }
    expect(errors(when({ key: 'destination.port', values: ['80'] }, 'CUSTOM', 'ext'))).toEqual([]);
  });
});

describe('when: conditions (ValidateAttribute)', () => {
  it('a condition is a mapping with a non-empty key and at least one of values / notValues', () => {
    expect(errors(rules({ when: { key: 'source.ip' } }))).toEqual([['schema', `${R}.when`]]);
    expect(errors(rules({ when: ['source.ip'] }))).toEqual([['schema', W]]);
    expect(errors(when({ values: ['a'] }))).toEqual([['missing_field', `${W}.key`]]);
    expect(errors(when({ key: '', values: ['a'] }))).toEqual([['missing_field', `${W}.key`]]);
    expect(errors(when({ key: 7, values: ['a'] }))).toEqual([['missing_field', `${W}.key`]]);
    expect(errors(when({ key: 'source.namespace' }))).toEqual([['missing_field', W]]);
    expect(errors(when({ key: 'source.namespace', values: [], notValues: [] }))).toEqual([['missing_field', W]]);
    expect(errors(when({ key: 'source.namespace', values: ['a'] }))).toEqual([]);
    expect(errors(when({ key: 'source.namespace', notValues: ['a'] }))).toEqual([]);
    expect(errors(when({ key: 'source.namespace', values: ['a'], value: ['b'] }))).toEqual([
      ['unknown_field', `${W}.value`],
    ]);
    // A bad list is reported as such, not also as "no values", and its values are not checked further.
    expect(errors(when({ key: 'source.namespace', values: 'a' }))).toEqual([['schema', `${W}.values`]]);
    expect(errors(when({ key: 'source.namespace', notValues: 'a' }))).toEqual([['schema', `${W}.notValues`]]);
    expect(errors(when({ key: 'source.ip', values: '10.0.0.1' }))).toEqual([['schema', `${W}.values`]]);
    expect(errors(when({ key: 'source.ip', values: ['10.0.0.1'], notValues: [1] }))).toEqual([
      ['schema', `${W}.notValues[0]`],
    ]);
    expect(errors(when({ key: 'source.namespace', values: ['a'], notValues: [''] }))).toEqual([
      ['empty_value', `${W}.notValues[0]`],
    ]);
  });

  it('accepts every key istiod knows', () => {
    for (const key of [
      'source.namespace',
      'source.principal',
      'source.serviceAccount',
      'source.trustDomain',
      'request.auth.principal',
      'request.auth.audiences',
      'request.auth.presenter',
      'connection.sni',
      'request.headers[x-token]',
      'request.auth.claims[iss]',
      'request.auth.claims[a][b]',
      'experimental.envoy.filters.network.mysql_proxy[db.table]',
    ]) {
      expect(conditionKeyProblem(key), key).toBeNull();
      expect(errors(when({ key, values: ['a'] })), key).toEqual([]);
    }
    for (const key of ['source.ip', 'remote.ip', 'destination.ip']) {
      expect(errors(when({ key, values: ['10.0.0.1'] })), key).toEqual([]);
    }
    expect(errors(when({ key: 'destination.port', values: ['443'] }))).toEqual([]);
  });

  it('refuses unknown, malformed and unsupported keys with the reason', () => {
    const refused: [string, string][] = [
      ['request.method', "unknown attribute 'request.method'"],
      ['source.ips', 'unknown attribute'],
      ['xsource.ip', 'unknown attribute'],
      ['request.headers', 'expected request.headers[<name>]'],
      ['request.headers[]', 'expected request.headers[<name>]'],
      ['request.headers[a]x', 'expected request.headers[<name>]'],
      ['request.headers[a][b]', 'expected request.headers[<name>]'],
      ['request.auth.claims', 'expected request.auth.claims[<claim>]'],
      ['request.auth.claims[]', 'expected request.auth.claims[<claim>]'],
      ['request.auth.claims[a]b', 'expected request.auth.claims[<claim>]'],
      ['experimental.envoy.filters.a', 'unknown attribute'],
      ['experimental.envoy.filters.a[b][c]', 'unknown attribute'],
      ['destination.labels[app]', 'is not supported'],
      ['destination.namespace', 'is not supported'],
      ['destination.name', 'is not supported'],
      ['destination.user', 'is not supported'],
    ];
    for (const [key, reason] of refused) {
      expect(conditionKeyProblem(key), key).toContain(reason);
      expect(errors(when({ key, values: ['a'] })), key).toEqual([['invalid_condition', `${W}.key`]]);
    }
  });

  it('checks values and notValues per key: IPs, ports, service accounts, trust domains', () => {
    for (const field of ['values', 'notValues']) {
      for (const key of ['source.ip', 'remote.ip', 'destination.ip']) {
        expect(errors(when({ key, [field]: ['10.0.0.0/8', 'x'] })), key).toEqual([['invalid_ip', `${W}.${field}[1]`]]);
      }
      expect(errors(when({ key: 'destination.port', [field]: ['80', '65536'] }))).toEqual([
        ['invalid_port', `${W}.${field}[1]`],
      ]);
      expect(errors(when({ key: 'source.serviceAccount', [field]: ['ns/sa', 'a/b/c'] }))).toEqual([
        ['invalid_value', `${W}.${field}[1]`],
      ]);
      expect(errors(when({ key: 'source.trustDomain', [field]: ['td*', 't*d'] }))).toEqual([
        ['invalid_value', `${W}.${field}[1]`],
      ]);
    }
    // source.trustDomain uses CheckWildcardValues, which allows '/' (only the Source fields refuse it).
    expect(errors(when({ key: 'source.trustDomain', values: ['td/x'] }))).toEqual([]);
    // Other keys take any text.
    expect(errors(when({ key: 'source.namespace', values: ['x', '65536', 'a/b/c', 't*d'] }))).toEqual([]);
    expect(errors(when({ key: 'request.headers[x]', values: ['not-an-ip'] }))).toEqual([]);
  });
});
