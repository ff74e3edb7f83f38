import { compileIpMatch } from './ip.js';
import type { PolicyCondition, PolicyOperation, PolicySource } from './model.js';
import { expandPrincipal, type ResolvedCompileOptions } from './options.js';
import { compileNamespaceMatch, compileStringMatch, compileWildcardMatch, type StringTest } from './strings.js';
import { compilePathMatch, isPathTemplate } from './templates.js';
import type { EndUser, RequestAttributes } from './types.js';

/**
 * One compiled field of a rule: a `from.source` field, a `to.operation` field or a `when` condition. `test` answers
 * "does this field hold for the request" with the not-form already applied, so evaluation is a flat AND/OR over
 * closures with no allocation. `path` is the normalized request path ('' when no check of the workload reads it).
 */
export interface FieldCheck {
  /** The field (`principals`, `notPaths`) or the `when` key. */
  readonly field: string;
  /** Where it is in the policy, e.g. `spec.rules[0].from[1].source.principals`. */
  readonly at: string;
  readonly values: readonly string[];
  readonly notValues: readonly string[];
  /** The request attribute it reads (for the decision cache and for explanations). */
  readonly reads: AttributeName;
  /** Lowercase header name for `request.headers[...]`. */
  readonly header?: string;
  /** For the workload index: the full SPIFFE IDs this check requires (positive exact principals only). */
  readonly exactPrincipals?: readonly string[];
  /** For the workload index: the exact normalized paths this check requires. */
  readonly exactPaths?: readonly string[];
  readonly test: (r: RequestAttributes, path: string) => boolean;
}

export type AttributeName =
  | 'peer'
  | 'user'
  | 'sourceIp'
  | 'remoteIp'
  | 'destinationIp'
  | 'destinationPort'
  | 'host'
  | 'method'
  | 'path'
  | 'header'
  | 'sni'
  | 'metadata';

type Probe = (r: RequestAttributes, path: string) => boolean;

function check(
  field: string,
  at: string,
  values: readonly string[],
  notValues: readonly string[],
  reads: AttributeName,
  positive: Probe | null,
  negative: Probe | null,
  extra: Partial<FieldCheck> = {},
): FieldCheck {
  let test: Probe;
  if (positive && negative) test = (r, p) => positive(r, p) && !negative(r, p);
  else if (positive) test = positive;
  else if (negative) test = (r, p) => !negative(r, p);
  else test = () => true;
  return { field, at, values, notValues, reads, test, ...extra };
}

/** principals: `spiffe://` + value, trust-domain aliases expanded; a request without a peer never matches. */
export function principalTest(
  values: readonly string[],
  options: ResolvedCompileOptions,
): { test: Probe; exact: string[] | null } {
  const expanded = values.flatMap((v) => expandPrincipal(v, options));
  const match = compileStringMatch(expanded, { prefix: 'spiffe://' });
  const exact = expanded.every((v) => !v.includes('*')) ? expanded.map((v) => `spiffe://${v}`) : null;
  return { test: (r) => r.peer !== null && match(r.peer.spiffeId), exact };
}

/** serviceAccounts: `ns/sa` (or `sa` in the policy's namespace) as the local trust domain's principal. */
function serviceAccountTest(values: readonly string[], policyNs: string, options: ResolvedCompileOptions) {
  return principalTest(
    values.map((v) =>
      v.includes('/') ? `cluster.local/ns/${v.replace('/', '/sa/')}` : `cluster.local/ns/${policyNs}/sa/${v}`,
    ),
    options,
  );
}

/**
 * requestPrincipals: `<iss>/<sub>` of the verified JWT. `*` needs a token with non-empty iss and sub; `iss/*` is
 * any subject of exactly that issuer (split at the last `/`: issuers are URLs with slashes); other forms match
 * the joined string. Source: istio/istio `pilot/pkg/security/authz/model/generator.go` (requestPrincipalGenerator).
 */
function requestPrincipalTest(values: readonly string[]): Probe {
  const issuers = new Set<string>();
  let any = false;
  const others: string[] = [];
  for (const v of values) {
    if (v === '*') any = true;
    else if (v.endsWith('/*')) issuers.add(v.slice(0, -2));
    else others.push(v);
  }
  const match = compileStringMatch(others);
  const hasOthers = others.length > 0;
  return (r) => {
    const u = r.user;
    if (u === null || u.issuer === '' || u.subject === '') return false;
    if (any || issuers.has(u.issuer)) return true;
    return hasOthers && match(`${u.issuer}/${u.subject}`);
  };
}

export function compileSource(
  src: PolicySource,
  at: string,
  policyNs: string,
  options: ResolvedCompileOptions,
): FieldCheck[] {
  const out: FieldCheck[] = [];
  const pair = (pos: readonly string[] | undefined, neg: readonly string[] | undefined) =>
    [pos ?? [], neg ?? []] as const;
  {
    const [pos, neg] = pair(src.principals, src.notPrincipals);
    if (pos.length) {
      const t = principalTest(pos, options);
      out.push(
        check(
          'principals',
          `${at}.principals`,
          pos,
          [],
          'peer',
          t.test,
          null,
          t.exact ? { exactPrincipals: t.exact } : {},
        ),
      );
    }
    if (neg.length)
      out.push(check('notPrincipals', `${at}.notPrincipals`, [], neg, 'peer', null, principalTest(neg, options).test));
  }
  {
    const [pos, neg] = pair(src.serviceAccounts, src.notServiceAccounts);
    if (pos.length) {
      const t = serviceAccountTest(pos, policyNs, options);
      out.push(
        check(
          'serviceAccounts',
          `${at}.serviceAccounts`,
          pos,
          [],
          'peer',
          t.test,
          null,
          t.exact ? { exactPrincipals: t.exact } : {},
        ),
      );
    }
    if (neg.length) {
      out.push(
        check(
          'notServiceAccounts',
          `${at}.notServiceAccounts`,
          [],
          neg,
          'peer',
          null,
          serviceAccountTest(neg, policyNs, options).test,
        ),
      );
    }
  }
  if (src.namespaces?.length) {
    const m = compileNamespaceMatch(src.namespaces);
    const probe: Probe = (r) => r.peer !== null && m(r.peer.spiffeId);
    out.push(check('namespaces', `${at}.namespaces`, src.namespaces, [], 'peer', probe, null));
  }
  if (src.notNamespaces?.length) {
    const m = compileNamespaceMatch(src.notNamespaces);
    const probe: Probe = (r) => r.peer !== null && m(r.peer.spiffeId);
    out.push(check('notNamespaces', `${at}.notNamespaces`, [], src.notNamespaces, 'peer', null, probe));
  }
  if (src.requestPrincipals?.length) {
    out.push(
      check(
        'requestPrincipals',
        `${at}.requestPrincipals`,
        src.requestPrincipals,
        [],
        'user',
        requestPrincipalTest(src.requestPrincipals),
        null,
      ),
    );
  }
  if (src.notRequestPrincipals?.length) {
    const t = requestPrincipalTest(src.notRequestPrincipals);
    out.push(
      check('notRequestPrincipals', `${at}.notRequestPrincipals`, [], src.notRequestPrincipals, 'user', null, t),
    );
  }
  for (const [field, list, reads] of [
    ['ipBlocks', src.ipBlocks, 'sourceIp'],
    ['notIpBlocks', src.notIpBlocks, 'sourceIp'],
    ['remoteIpBlocks', src.remoteIpBlocks, 'remoteIp'],
    ['notRemoteIpBlocks', src.notRemoteIpBlocks, 'remoteIp'],
  ] as const) {
    if (!list?.length) continue;
    const m = compileIpMatch(list);
    const probe: Probe = reads === 'sourceIp' ? (r) => m(r.sourceIp) : (r) => m(r.remoteIp);
    const neg = field.startsWith('not');
    out.push(
      check(field, `${at}.${field}`, neg ? [] : list, neg ? list : [], reads, neg ? null : probe, neg ? probe : null),
    );
  }
  return out;
}

function portSet(values: readonly string[]): Set<number> {
  return new Set(values.map(Number));
}

export function compileOperation(op: PolicyOperation, at: string): FieldCheck[] {
  const out: FieldCheck[] = [];
  const add = (
    field: string,
    list: readonly string[] | undefined,
    reads: AttributeName,
    probe: (l: readonly string[]) => Probe,
    extra: Partial<FieldCheck> = {},
  ) => {
    if (!list?.length) return;
    const neg = field.startsWith('not');
    const p = probe(list);
    out.push(
      check(field, `${at}.${field}`, neg ? [] : list, neg ? list : [], reads, neg ? null : p, neg ? p : null, extra),
    );
  };
  const hostProbe = (l: readonly string[]): Probe => {
    const m = compileStringMatch(l, { ignoreCase: true });
    return (r) => m(r.host);
  };
  const methodProbe = (l: readonly string[]): Probe => {
    const m = compileStringMatch(l);
    return (r) => m(r.method);
  };
  const pathProbe = (l: readonly string[]): Probe => {
    const m = compilePathMatch(l);
    return (_r, p) => m(p);
  };
  const portProbe = (l: readonly string[]): Probe => {
    const s = portSet(l);
    return (r) => s.has(r.destinationPort);
  };
  add('hosts', op.hosts, 'host', hostProbe);
  add('notHosts', op.notHosts, 'host', hostProbe);
  add('ports', op.ports, 'destinationPort', portProbe);
  add('notPorts', op.notPorts, 'destinationPort', portProbe);
  add('methods', op.methods, 'method', methodProbe);
  add('notMethods', op.notMethods, 'method', methodProbe);
  const exactPaths = op.paths?.every((p) => !p.includes('*') && !isPathTemplate(p)) ? op.paths : undefined;
  add('paths', op.paths, 'path', pathProbe, exactPaths ? { exactPaths } : {});
  add('notPaths', op.notPaths, 'path', pathProbe);
  return out;
}

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
      return serviceAccountTest(list, policyNs, options).test;
    case 'source.trustDomain': {
      const m = compileWildcardMatch(list);
      return (r) => r.peer !== null && m(r.peer.trustDomain);
    }
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
  const m = compileStringMatch(list);
  if (key.startsWith('request.auth.claims[')) {
    const keys = bracketKeys(key);
    return (r) => r.user !== null && someMatch(claimValues(r.user, keys), m);
  }
  // experimental.envoy.filters.<name>[<key>]: dynamic metadata the named filter wrote.
  const filter = `envoy.filters.${key.slice('experimental.envoy.filters.'.length, key.indexOf('['))}`;
  const field = bracketKeys(key)[0]!;
  return (r) => {
    const ns = r.filterMetadata[filter];
    if (typeof ns !== 'object' || ns === null) return false;
    const v = (ns as Record<string, unknown>)[field];
    if (typeof v === 'string') return m(v);
    return Array.isArray(v) && v.some((x) => typeof x === 'string' && m(x));
  };
}
