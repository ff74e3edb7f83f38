import { compileIpMatch } from './ip.js';
import type { PolicyOperation, PolicySource } from './model.js';
import { expandPrincipal, type ResolvedCompileOptions } from './options.js';
import { compileNamespaceMatch, compileStringMatch } from './strings.js';
import { compilePathMatch, isPathTemplate } from './templates.js';
import type { RequestAttributes } from './types.js';

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

export type Probe = (r: RequestAttributes, path: string) => boolean;

export function check(
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
export function serviceAccountTest(values: readonly string[], policyNs: string, options: ResolvedCompileOptions) {
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
export function requestPrincipalTest(values: readonly string[]): Probe {
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

export function portSet(values: readonly string[]): Set<number> {
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
