import {
  type AttributeName,
  check,
  type FieldCheck,
  type Probe,
  portSet,
  principalTest,
  requestPrincipalTest,
  serviceAccountTest,
} from './checks.js';
import { compileIpMatch } from './ip.js';
import type { PolicyCondition } from './model.js';
import type { ResolvedCompileOptions } from './options.js';
import { compileNamespaceMatch, compileStringMatch, type StringTest } from './strings.js';
import { trustDomainTest } from './trust-domains.js';
import type { EndUser } from './types.js';

/**
 * `when` conditions: every key of istio.io "Authorization Policy Conditions", compiled to one probe for `values`
 * and one for `notValues`. A missing attribute (no header, no token, no peer) never matches a value, so it fails
 * `values` and passes `notValues`. Source: istio/istio `pilot/pkg/security/authz/model/generator.go`.
 */

const SPLIT_CLAIMS = new Set(['scope', 'permission']);

/** The string values of a (possibly nested) claim: a string, or the strings of a list; `scope` split on spaces. */
export function claimValues(user: EndUser, keys: readonly string[]): string[] {
  let v: unknown = user.claims;
  for (const k of keys) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return [];
    v = (v as Record<string, unknown>)[k];
  }
  const last = keys[keys.length - 1] ?? '';
  if (typeof v === 'string') return SPLIT_CLAIMS.has(last) ? v.split(' ').filter((s) => s !== '') : [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

/** Splits `request.auth.claims[a][b]` or `...filters.x[y]` brackets into their names. */
export function bracketKeys(key: string): string[] {
  const out: string[] = [];
  const re = /\[([^\][]+)\]/g;
  for (let m = re.exec(key); m !== null; m = re.exec(key)) out.push(m[1]!);
  return out;
}

function someMatch(list: readonly string[], m: StringTest): boolean {
  for (const s of list) if (m(s)) return true;
  return false;
}

/** A `when` condition: (some of values, if given) AND (none of notValues). */
export function compileCondition(
  cond: PolicyCondition,
  at: string,
  policyNs: string,
  options: ResolvedCompileOptions,
): FieldCheck {
  const values = cond.values ?? [];
  const notValues = cond.notValues ?? [];
  const key = cond.key;
  const probeFor = (list: readonly string[]): Probe | null =>
    list.length ? conditionProbe(key, list, policyNs, options) : null;
  const reads = conditionReads(key);
  const extra: Partial<FieldCheck> = {};
  if (reads === 'header') (extra as { header: string }).header = bracketKeys(key)[0]!.toLowerCase();
  return check(key, `${at}`, values, notValues, reads, probeFor(values), probeFor(notValues), extra);
}

export function conditionReads(key: string): AttributeName {
  if (key.startsWith('request.headers[')) return 'header';
  if (key === 'source.ip') return 'sourceIp';
  if (key === 'remote.ip') return 'remoteIp';
  if (key === 'destination.ip') return 'destinationIp';
  if (key === 'destination.port') return 'destinationPort';
  if (key === 'connection.sni') return 'sni';
  if (key.startsWith('source.')) return 'peer';
  if (key.startsWith('request.auth.')) return 'user';
  return 'metadata';
}

function conditionProbe(
  key: string,
  list: readonly string[],
  policyNs: string,
  options: ResolvedCompileOptions,
): Probe {
  if (key.startsWith('request.headers[')) {
    const name = bracketKeys(key)[0]!.toLowerCase();
    // `*` is Envoy's present_match: the header exists (any value). Other forms need the header to be present.
    const present = list.includes('*');
    const m = compileStringMatch(list);
    return (r) => {
      const v = r.headers[name];
      return v !== undefined && (present || m(v));
    };
  }
  switch (key) {
    case 'source.ip':
    case 'remote.ip':
    case 'destination.ip': {
      const m = compileIpMatch(list);
      if (key === 'source.ip') return (r) => m(r.sourceIp);
      if (key === 'remote.ip') return (r) => m(r.remoteIp);
      return (r) => m(r.destinationIp);
    }
    case 'destination.port': {
      const s = portSet(list);
      return (r) => s.has(r.destinationPort);
    }
    case 'connection.sni': {
      const m = compileStringMatch(list);
      return (r) => m(r.sni);
    }
    case 'source.principal':
      return principalTest(list, options).test;
    case 'source.namespace': {
      const m = compileNamespaceMatch(list);
      return (r) => r.peer !== null && m(r.peer.spiffeId);
    }
    case 'source.serviceAccount':
      return serviceAccountTest(list, policyNs);
    case 'source.trustDomain':
      return trustDomainTest(list, options);
    case 'request.auth.principal':
      return requestPrincipalTest(list);
    case 'request.auth.audiences': {
      const m = compileStringMatch(list);
      return (r) => r.user !== null && someMatch(r.user.audiences, m);
    }
    case 'request.auth.presenter': {
      const m = compileStringMatch(list);
      return (r) => r.user?.presenter != null && m(r.user.presenter);
    }
  }
  if (key.startsWith('request.auth.claims[')) return claimProbe(key, compileStringMatch(list));
  return filterMetadataProbe(key, list);
}

/** One probe per (claim, shared string test): group rules repeat the same claim and values across policies. */
const claimProbes = new WeakMap<StringTest, Map<string, Probe>>();

function claimProbe(key: string, m: StringTest): Probe {
  let byKey = claimProbes.get(m);
  if (byKey === undefined) {
    byKey = new Map();
    claimProbes.set(m, byKey);
  }
  let probe = byKey.get(key);
  if (probe === undefined) {
    const keys = bracketKeys(key);
    probe = (r) => r.user !== null && someMatch(claimValues(r.user, keys), m);
    byKey.set(key, probe);
  }
  return probe;
}

/**
 * `experimental.envoy.filters.<name>[<key>]`: the dynamic metadata the named filter wrote. A value written `[v]`
 * matches a LIST that contains a string matching `v`; a plain `v` matches a STRING value only (never a list).
 * Source: istio/istio 1.30.3 `pilot/pkg/security/authz/model/generator.go` (envoyFilterGenerator: ListMatch for
 * `[v]`, StringMatch otherwise; Go's strings.Trim(v, "[]") drops every `[` or `]` at either end).
 */
function filterMetadataProbe(key: string, list: readonly string[]): Probe {
  const filter = `envoy.filters.${key.slice('experimental.envoy.filters.'.length, key.indexOf('['))}`;
  const field = bracketKeys(key)[0]!;
  const listForms = list.filter((v) => v.startsWith('[') && v.endsWith(']'));
  const plain = list.filter((v) => !(v.startsWith('[') && v.endsWith(']')));
  const inList =
    listForms.length > 0 ? compileStringMatch(listForms.map((v) => v.replace(/^[[\]]+|[[\]]+$/g, ''))) : null;
  const asString = plain.length > 0 ? compileStringMatch(plain) : null;
  return (r) => {
    const ns = r.filterMetadata[filter];
    if (typeof ns !== 'object' || ns === null) return false;
    const v = (ns as Record<string, unknown>)[field];
    if (typeof v === 'string') return asString?.(v) === true;
    if (Array.isArray(v) && inList !== null) return v.some((x) => typeof x === 'string' && inList(x));
    return false;
  };
}
