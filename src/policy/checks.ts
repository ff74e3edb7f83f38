import { compileIpMatch } from './ip.js';
import type { PolicyOperation, PolicySource } from './model.js';
import { expandPrincipal, type ResolvedCompileOptions } from './options.js';
import { compileNamespaceMatch, compileStringMatch, type StringTest } from './strings.js';
import { compilePathMatch, isPathTemplate } from './templates.js';
import { trustDomainTest } from './trust-domains.js';
import type { Probe, RequestAttributes } from './types.js';

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

export type { Probe } from './types.js';

const NO_VALUES: readonly string[] = Object.freeze([]);
const ALWAYS: Probe = () => true;

/**
 * Field paths by their text. Every policy repeats the same few hundred (`spec.rules[0].to[0].operation.methods`),
 * and a path built by concatenation is a chain of string pieces (~0.6 KB per rule across its checks): one copy
 * of each serves every rule. Bounded like the shared string tests.
 */
const FIELD_PATHS = new Map<string, string>();
const FIELD_PATHS_LIMIT = 10_000;

function fieldPath(at: string): string {
  const known = FIELD_PATHS.get(at);
  if (known !== undefined) return known;
  if (FIELD_PATHS.size >= FIELD_PATHS_LIMIT) FIELD_PATHS.clear();
  FIELD_PATHS.set(at, at);
  return at;
}

/**
 * `${at}.${field}`, one copy per distinct text, found without building the text: the compiler asks for the same few
 * hundred paths for every rule, and hashing a freshly concatenated string on each lookup cost ~8% of a load. `at`
 * is itself a shared path (see compile.ts), so both lookups hash strings whose hash is already known.
 */
const CHILD_PATHS = new Map<string, Map<string, string>>();

export function fieldAt(at: string, field: string): string {
  let children = CHILD_PATHS.get(at);
  if (children === undefined) {
    if (CHILD_PATHS.size >= FIELD_PATHS_LIMIT) CHILD_PATHS.clear();
    children = new Map();
    CHILD_PATHS.set(at, children);
  }
  let path = children.get(field);
  if (path === undefined) {
    path = fieldPath(`${at}.${field}`);
    children.set(field, path);
  }
  return path;
}

/**
 * One probe closure per shared string test: the tests are shared between equal value lists (strings.ts), so the
 * closures that apply them to a request attribute can be too (a generated rule set repeats methods, paths and
 * callers thousands of times). Weakly held: a test nothing uses any more takes its probe with it.
 */
export function probeOf(cache: WeakMap<StringTest, Probe>, m: StringTest, make: (m: StringTest) => Probe): Probe {
  let probe = cache.get(m);
  if (probe === undefined) {
    probe = make(m);
    cache.set(m, probe);
  }
  return probe;
}

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
  else test = ALWAYS;
  return {
    field,
    at: fieldPath(at),
    values: values.length === 0 ? NO_VALUES : values,
    notValues: notValues.length === 0 ? NO_VALUES : notValues,
    reads,
    test,
    ...extra,
  };
}

const peerProbes = new WeakMap<StringTest, Probe>();
const peerProbe = (m: StringTest): Probe => probeOf(peerProbes, m, (t) => (r) => r.peer !== null && t(r.peer.spiffeId));

/** principals: `spiffe://` + value, trust-domain aliases expanded; a request without a peer never matches. */
export function principalTest(
  values: readonly string[],
  options: ResolvedCompileOptions,
): { test: Probe; exact: string[] | null } {
  const expanded = values.flatMap((v) => expandPrincipal(v, options));
  const match = compileStringMatch(expanded, { prefix: 'spiffe://' });
  const exact = expanded.every((v) => !v.includes('*')) ? expanded.map((v) => `spiffe://${v}`) : null;
  return { test: peerProbe(match), exact };
}

/**
 * serviceAccounts (`ns/sa`, or `sa` in the policy's namespace) and `source.serviceAccount`: Istio matches the
 * peer principal against `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?`, a full match in ANY trust domain (there is
 * no trust-domain part in the value). Written as index scans rather than a RegExp so a long peer ID cannot make
 * the `.+` groups backtrack. Source: istio/istio 1.30.3 `pilot/pkg/security/authz/model/generator.go`
 * (serviceAccountRegex).
 */
export function serviceAccountTest(values: readonly string[], policyNs: string): Probe {
  const wanted = values.map((v) => {
    const cut = v.indexOf('/');
    return cut < 0
      ? { ns: `/ns/${policyNs}/`, sa: `sa/${v}` }
      : { ns: `/ns/${v.slice(0, cut)}/`, sa: `sa/${v.slice(cut + 1)}` };
  });
  return (r) => {
    if (r.peer === null) return false;
    for (const w of wanted) if (serviceAccountMatches(r.peer.spiffeId, w.ns, w.sa)) return true;
    return false;
  };
}

const SPIFFE_SCHEME = 'spiffe://';

/** `spiffe://.+<ns>(.+/|)<sa>(/.+)?` as a full match; `ns` is `/ns/<x>/`, `sa` is `sa/<y>`. */
export function serviceAccountMatches(id: string, ns: string, sa: string): boolean {
  if (!id.startsWith(SPIFFE_SCHEME)) return false;
  // `.+` before `/ns/`: at least one character of trust domain (it may itself contain `/`).
  for (let i = id.indexOf(ns, SPIFFE_SCHEME.length + 1); i >= 0; i = id.indexOf(ns, i + 1)) {
    const rest = i + ns.length;
    for (let j = id.indexOf(sa, rest); j >= 0; j = id.indexOf(sa, j + 1)) {
      // `(.+/|)`: nothing, or at least one character followed by `/`.
      if (j !== rest && (j - rest < 2 || id[j - 1] !== '/')) continue;
      const end = j + sa.length;
      // `(/.+)?`: the end, or `/` and at least one more character (so `sa/b` does not match `sa/bc`).
      if (end === id.length || (id[end] === '/' && end + 1 < id.length)) return true;
    }
  }
  return false;
}

/**
 * requestPrincipals and `request.auth.principal`: each value is split at its LAST `/` into an issuer and a subject
 * (issuers are URLs) and the two are matched separately against the token's `iss` and `sub`, never as one joined
 * string, so a prefix or suffix form cannot cross the issuer/subject boundary. The forms, exactly as Istio builds
 * them (`any` = non-empty):
 * - `*`: any issuer, any subject.
 * - leading `*`, with a `/`: issuer `*` = any, else issuer suffix; subject exact. Without a `/`: any issuer,
 *   subject suffix.
 * - trailing `*`, with a `/`: issuer exact; subject `*` = any, else subject prefix. Without a `/`: issuer prefix,
 *   any subject.
 * - otherwise issuer exact and subject exact (no `/`: the subject must be empty, which a verified token never has).
 * Source: istio/istio 1.30.3 `pilot/pkg/security/authz/model/generator.go` (requestPrincipalGenerator), and
 * istio/istio#50246.
 */
export function requestPrincipalTest(values: readonly string[]): Probe {
  const tests = values.map(requestPrincipalValue);
  return (r) => {
    const u = r.user;
    if (u === null) return false;
    for (const t of tests) if (t(u.issuer, u.subject)) return true;
    return false;
  };
}

type PartTest = (s: string) => boolean;
const anyValue: PartTest = (s) => s.length > 0;
const exactly =
  (want: string): PartTest =>
  (s) =>
    s === want;
const endsWith =
  (suffix: string): PartTest =>
  (s) =>
    s.endsWith(suffix);
const startsWith =
  (prefix: string): PartTest =>
  (s) =>
    s.startsWith(prefix);

function requestPrincipalValue(value: string): (iss: string, sub: string) => boolean {
  const cut = value.lastIndexOf('/');
  const found = cut >= 0;
  const iss = found ? value.slice(0, cut) : value;
  const sub = found ? value.slice(cut + 1) : '';
  let matchIss: PartTest;
  let matchSub: PartTest;
  if (value === '*') {
    matchIss = anyValue;
    matchSub = anyValue;
  } else if (value.startsWith('*')) {
    if (found) {
      matchIss = iss === '*' ? anyValue : endsWith(iss.slice(1));
      matchSub = exactly(sub);
    } else {
      matchIss = anyValue;
      matchSub = endsWith(value.slice(1));
    }
  } else if (value.endsWith('*')) {
    if (found) {
      matchIss = exactly(iss);
      matchSub = sub === '*' ? anyValue : startsWith(sub.slice(0, -1));
    } else {
      matchIss = startsWith(value.slice(0, -1));
      matchSub = anyValue;
    }
  } else {
    matchIss = exactly(iss);
    matchSub = exactly(sub);
  }
  return (i, s) => matchIss(i) && matchSub(s);
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
          fieldAt(at, 'principals'),
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
      out.push(
        check('notPrincipals', fieldAt(at, 'notPrincipals'), [], neg, 'peer', null, principalTest(neg, options).test),
      );
  }
  {
    // Not indexed by exact SPIFFE ID: a service account matches in any trust domain.
    const [pos, neg] = pair(src.serviceAccounts, src.notServiceAccounts);
    if (pos.length) {
      const t = serviceAccountTest(pos, policyNs);
      out.push(check('serviceAccounts', fieldAt(at, 'serviceAccounts'), pos, [], 'peer', t, null));
    }
    if (neg.length) {
      const t = serviceAccountTest(neg, policyNs);
      out.push(check('notServiceAccounts', fieldAt(at, 'notServiceAccounts'), [], neg, 'peer', null, t));
    }
  }
  if (src.trustDomains?.length) {
    const t = trustDomainTest(src.trustDomains, options);
    out.push(check('trustDomains', fieldAt(at, 'trustDomains'), src.trustDomains, [], 'peer', t, null));
  }
  if (src.notTrustDomains?.length) {
    const t = trustDomainTest(src.notTrustDomains, options);
    out.push(check('notTrustDomains', fieldAt(at, 'notTrustDomains'), [], src.notTrustDomains, 'peer', null, t));
  }
  if (src.namespaces?.length) {
    const m = compileNamespaceMatch(src.namespaces);
    const probe: Probe = (r) => r.peer !== null && m(r.peer.spiffeId);
    out.push(check('namespaces', fieldAt(at, 'namespaces'), src.namespaces, [], 'peer', probe, null));
  }
  if (src.notNamespaces?.length) {
    const m = compileNamespaceMatch(src.notNamespaces);
    const probe: Probe = (r) => r.peer !== null && m(r.peer.spiffeId);
    out.push(check('notNamespaces', fieldAt(at, 'notNamespaces'), [], src.notNamespaces, 'peer', null, probe));
  }
  if (src.requestPrincipals?.length) {
    out.push(
      check(
        'requestPrincipals',
        fieldAt(at, 'requestPrincipals'),
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
      check('notRequestPrincipals', fieldAt(at, 'notRequestPrincipals'), [], src.notRequestPrincipals, 'user', null, t),
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
      check(field, fieldAt(at, field), neg ? [] : list, neg ? list : [], reads, neg ? null : probe, neg ? probe : null),
    );
  }
  return out;
}

export function portSet(values: readonly string[]): Set<number> {
  return new Set(values.map(Number));
}

// Module-level probe factories: a closure made inside compileOperation would keep its whole scope alive.
const hostProbes = new WeakMap<StringTest, Probe>();
const methodProbes = new WeakMap<StringTest, Probe>();
const pathProbes = new WeakMap<StringTest, Probe>();
const hostProbe = (l: readonly string[]): Probe =>
  probeOf(hostProbes, compileStringMatch(l, { ignoreCase: true }), (m) => (r) => m(r.host));
const methodProbe = (l: readonly string[]): Probe =>
  probeOf(methodProbes, compileStringMatch(l), (m) => (r) => m(r.method));
const pathProbe = (l: readonly string[]): Probe => probeOf(pathProbes, compilePathMatch(l), (m) => (_r, p) => m(p));
const portProbe = (l: readonly string[]): Probe => {
  const s = portSet(l);
  return (r) => s.has(r.destinationPort);
};

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
      check(field, fieldAt(at, field), neg ? [] : list, neg ? list : [], reads, neg ? null : p, neg ? p : null, extra),
    );
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
