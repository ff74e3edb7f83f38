import { parseCidr } from './ip.js';
import { type FieldPath, type IssueSink, isRecord } from './issues.js';
import { pathTemplateProblem } from './templates.js';
import { trustDomainValueProblem } from './trust-domains.js';
import type { PolicyAction } from './types.js';

/**
 * istiod's webhook rules for `rules[]` (from, to, when), plus the CRD's structural schema for those fields.
 * Sources: istio/istio `pkg/config/validation/validation.go` (ValidateAuthorizationPolicy, validateAuthzRule),
 * `pkg/config/security/security.go` (ValidateAttribute, CheckEmptyValues); istio/api CRD (maxItems).
 */

export const SOURCE_FIELDS = [
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
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
] as const;

export const OPERATION_FIELDS = [
  'hosts',
  'notHosts',
  'ports',
  'notPorts',
  'methods',
  'notMethods',
  'paths',
  'notPaths',
] as const;

/** Identity fields a CUSTOM policy may not use: the external provider, not Envoy RBAC, sees the request. */
const CUSTOM_FORBIDDEN_SOURCE = new Set<string>([
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
]);
const CUSTOM_FORBIDDEN_KEYS = /^(source\.(namespace|principal|serviceAccount|trustDomain)$|request\.auth\.)/;

const MAX_RULES = 512;
const MAX_FROM = 512;
const MAX_SERVICE_ACCOUNTS = 16;
const MAX_SERVICE_ACCOUNT_LENGTH = 320;

export function validateRules(rules: unknown, action: PolicyAction, sink: IssueSink): void {
  const at: FieldPath = ['spec', 'rules'];
  if (!Array.isArray(rules)) {
    sink.error(at, 'schema', 'rules must be a list');
    return;
  }
  if (rules.length > MAX_RULES) sink.error(at, 'limit_exceeded', `at most ${MAX_RULES} rules are allowed`);
  rules.forEach((rule, i) => {
    validateRule(rule, action, [...at, i], sink);
  });
}

function validateRule(rule: unknown, action: PolicyAction, at: FieldPath, sink: IssueSink): void {
  if (!isRecord(rule)) {
    sink.error(at, 'schema', 'a rule must be a mapping');
    return;
  }
  for (const key of Object.keys(rule)) {
    if (key !== 'from' && key !== 'to' && key !== 'when')
      sink.error([...at, key], 'unknown_field', `unknown field '${key}'`);
  }
  if (rule.from !== undefined && rule.from !== null) {
    validateClauses(rule.from, 'from', 'source', SOURCE_FIELDS, action, [...at, 'from'], sink);
  }
  if (rule.to !== undefined && rule.to !== null) {
    validateClauses(rule.to, 'to', 'operation', OPERATION_FIELDS, action, [...at, 'to'], sink);
  }
  if (rule.when !== undefined && rule.when !== null) validateWhen(rule.when, action, [...at, 'when'], sink);
}

function validateClauses(
  list: unknown,
  name: 'from' | 'to',
  inner: 'source' | 'operation',
  fields: readonly string[],
  action: PolicyAction,
  at: FieldPath,
  sink: IssueSink,
): void {
  if (!Array.isArray(list)) {
    sink.error(at, 'schema', `${name} must be a list`);
    return;
  }
  if (list.length === 0) sink.error(at, 'empty_value', `\`${name}\` must not be empty (omit it to match any ${inner})`);
  // The CRD caps `from` at 512 entries and leaves `to` unbounded (istio/istio
  // manifests/charts/base/files/crd-all.gen.yaml, authorizationpolicies: rules.items.from maxItems).
  if (name === 'from' && list.length > MAX_FROM) {
    sink.error(at, 'limit_exceeded', `at most ${MAX_FROM} entries are allowed`);
  }
  list.forEach((entry, i) => {
    const here = [...at, i];
    if (!isRecord(entry)) {
      sink.error(here, 'schema', `each ${name} entry must be a mapping with '${inner}'`);
      return;
    }
    for (const key of Object.keys(entry)) {
      if (key !== inner) sink.error([...here, key], 'unknown_field', `unknown field '${key}' (expected '${inner}')`);
    }
    const body = entry[inner];
    if (!isRecord(body)) {
      sink.error([...here, inner], 'missing_field', `\`${name}.${inner}\` must be set and be a mapping`);
      return;
    }
    let set = 0;
    for (const key of Object.keys(body)) {
      const fieldAt = [...here, inner, key];
      if (!fields.includes(key)) {
        sink.error(fieldAt, 'unknown_field', `unknown field '${key}' in ${inner}`);
        continue;
      }
      const values = stringList(body[key], fieldAt, sink);
      if (values === null || values.length === 0) continue;
      set++;
      if (action === 'CUSTOM' && CUSTOM_FORBIDDEN_SOURCE.has(key)) {
        sink.error(fieldAt, 'custom_identity_field', `a CUSTOM policy cannot use ${key} (identity is not known yet)`);
      }
      checkFieldValues(key, values, fieldAt, sink);
    }
    if (set === 0) sink.error([...here, inner], 'empty_value', `\`${name}.${inner}\` must not be empty`);
    if (inner === 'source') {
      const sa = nonEmpty(body.serviceAccounts) || nonEmpty(body.notServiceAccounts);
      const other =
        nonEmpty(body.principals) ||
        nonEmpty(body.notPrincipals) ||
        nonEmpty(body.namespaces) ||
        nonEmpty(body.notNamespaces);
      if (sa && other) {
        sink.error(
          [...here, inner],
          'invalid_value',
          'serviceAccounts cannot be combined with principals or namespaces',
        );
      }
    }
  });
}

function nonEmpty(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0;
}

function checkFieldValues(key: string, values: readonly string[], at: FieldPath, sink: IssueSink): void {
  if (key === 'ipBlocks' || key === 'notIpBlocks' || key === 'remoteIpBlocks' || key === 'notRemoteIpBlocks') {
    values.forEach((v, i) => {
      if (parseCidr(v) === null) sink.error([...at, i], 'invalid_ip', `'${v}' is not an IP address or CIDR block`);
    });
  } else if (key === 'ports' || key === 'notPorts') {
    checkPorts(values, at, sink);
  } else if (key === 'paths' || key === 'notPaths') {
    values.forEach((v, i) => {
      const problem = pathTemplateProblem(v);
      if (problem) sink.error([...at, i], 'invalid_path_template', `invalid path template '${v}': ${problem}`);
    });
  } else if (key === 'serviceAccounts' || key === 'notServiceAccounts') {
    checkServiceAccounts(values, at, sink);
  } else if (key === 'trustDomains' || key === 'notTrustDomains') {
    checkTrustDomains(values, true, at, sink);
  }
}

/** istio/istio 1.30.3 pkg/config/security/security.go (CheckServiceAccount): fields and `source.serviceAccount`. */
function checkServiceAccounts(values: readonly string[], at: FieldPath, sink: IssueSink): void {
  if (values.length > MAX_SERVICE_ACCOUNTS) {
    sink.error(at, 'limit_exceeded', `at most ${MAX_SERVICE_ACCOUNTS} service accounts are allowed`);
  }
  values.forEach((v, i) => {
    if (v.length > MAX_SERVICE_ACCOUNT_LENGTH) {
      sink.error([...at, i], 'limit_exceeded', `a service account is at most ${MAX_SERVICE_ACCOUNT_LENGTH} characters`);
    }
    if (v.includes('*') || v.split('/').length > 2 || v.split('/').some((p) => p === '')) {
      sink.error([...at, i], 'invalid_value', `'${v}' must be 'namespace/serviceaccount' or 'serviceaccount'`);
    }
  });
}

/** CheckTrustDomainValues (Source fields, no `/`) and CheckWildcardValues (`source.trustDomain`). */
function checkTrustDomains(values: readonly string[], noSlash: boolean, at: FieldPath, sink: IssueSink): void {
  values.forEach((v, i) => {
    const problem = trustDomainValueProblem(v, noSlash);
    if (problem) sink.error([...at, i], 'invalid_value', problem);
  });
}

function checkPorts(values: readonly string[], at: FieldPath, sink: IssueSink): void {
  values.forEach((v, i) => {
    if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) {
      sink.error([...at, i], 'invalid_port', `'${v}' is not a port number (0-65535)`);
    }
  });
}

/** A list of non-empty strings, or null after reporting why not. */
export function stringList(v: unknown, at: FieldPath, sink: IssueSink): string[] | null {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) {
    sink.error(at, 'schema', 'expected a list of strings');
    return null;
  }
  let ok = true;
  v.forEach((item, i) => {
    if (typeof item !== 'string') {
      sink.error([...at, i], 'schema', 'expected a string');
      ok = false;
    } else if (item === '') {
      sink.error([...at, i], 'empty_value', 'empty value is not allowed');
      ok = false;
    }
  });
  return ok ? (v as string[]) : null;
}

const IP_KEYS = new Set(['source.ip', 'remote.ip', 'destination.ip']);
const PLAIN_KEYS = new Set([
  'source.namespace',
  'source.principal',
  'source.serviceAccount',
  'source.trustDomain',
  'request.auth.principal',
  'request.auth.audiences',
  'request.auth.presenter',
  'connection.sni',
  'destination.port',
  ...IP_KEYS,
]);
const HEADER_KEY = /^request\.headers\[([^\][]+)\]$/;
const CLAIMS_KEY = /^request\.auth\.claims(\[[^\][]+\])+$/;
const FILTER_KEY = /^experimental\.envoy\.filters\.[^\][]+\[[^\][]+\]$/;
const UNSUPPORTED_KEY = /^destination\.(labels|namespace|name|user)/;

/** Why a `when` key is invalid, or null when istiod accepts it. */
export function conditionKeyProblem(key: string): string | null {
  if (PLAIN_KEYS.has(key) || HEADER_KEY.test(key) || CLAIMS_KEY.test(key) || FILTER_KEY.test(key)) return null;
  if (UNSUPPORTED_KEY.test(key)) return `'${key}' is not supported in AuthorizationPolicy conditions`;
  if (key.startsWith('request.headers')) return `'${key}': expected request.headers[<name>]`;
  if (key.startsWith('request.auth.claims')) return `'${key}': expected request.auth.claims[<claim>] (nested: [a][b])`;
  return `unknown attribute '${key}'`;
}

function validateWhen(list: unknown, action: PolicyAction, at: FieldPath, sink: IssueSink): void {
  if (!Array.isArray(list)) {
    sink.error(at, 'schema', 'when must be a list');
    return;
  }
  list.forEach((cond, i) => {
    const here = [...at, i];
    if (!isRecord(cond)) {
      sink.error(here, 'schema', 'a condition must be a mapping with key, values and/or notValues');
      return;
    }
    for (const k of Object.keys(cond)) {
      if (k !== 'key' && k !== 'values' && k !== 'notValues')
        sink.error([...here, k], 'unknown_field', `unknown field '${k}'`);
    }
    if (typeof cond.key !== 'string' || cond.key === '') {
      sink.error([...here, 'key'], 'missing_field', 'a condition needs a key');
      return;
    }
    const problem = conditionKeyProblem(cond.key);
    if (problem) sink.error([...here, 'key'], 'invalid_condition', problem);
    if (action === 'CUSTOM' && CUSTOM_FORBIDDEN_KEYS.test(cond.key)) {
      sink.error([...here, 'key'], 'custom_identity_field', `a CUSTOM policy cannot use the condition key ${cond.key}`);
    }
    const values = stringList(cond.values, [...here, 'values'], sink);
    const notValues = stringList(cond.notValues, [...here, 'notValues'], sink);
    if (values !== null && notValues !== null && values.length === 0 && notValues.length === 0) {
      sink.error(here, 'missing_field', `at least one of values or notValues must be set for key ${cond.key}`);
    }
    for (const [field, list2] of [
      ['values', values],
      ['notValues', notValues],
    ] as const) {
      if (!list2) continue;
      // istiod validates values per key (istio/istio 1.30.3 pkg/config/security/security.go, ValidateAttribute).
      if (IP_KEYS.has(cond.key)) {
        list2.forEach((v, j) => {
          if (parseCidr(v) === null)
            sink.error([...here, field, j], 'invalid_ip', `'${v}' is not an IP address or CIDR block`);
        });
      } else if (cond.key === 'destination.port') checkPorts(list2, [...here, field], sink);
      else if (cond.key === 'source.serviceAccount') checkServiceAccounts(list2, [...here, field], sink);
      else if (cond.key === 'source.trustDomain') checkTrustDomains(list2, false, [...here, field], sink);
    }
  });
}
