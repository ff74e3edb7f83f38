import { actionOf, type PolicyRule, type PolicySource } from '../policy/model.js';
import { expandPrincipal, ISTIO_DEFAULTS } from '../policy/options.js';
import type { WorkloadRef } from '../policy/types.js';
import type { PolicyEntry } from './policy-model.js';
import type { FlowSource } from './types.js';

/**
 * Pair-level reachability: can ANY request from a caller identity reach a workload under a set of policies?
 * This is what the attack-surface figure counts. It reads the policy documents (not the compiled engine) because
 * the question is about all requests, not one: a rule's operation and non-identity conditions are taken as
 * satisfiable by some request, while its identity fields (principals, namespaces, serviceAccounts, the `source.*`
 * conditions) are decided exactly. So an ALLOW rule counts if the caller's identity can satisfy it, and a DENY rule
 * removes the pair only when it denies every request from that caller (identity-only, no operation or other
 * condition). The result over-approximates what is reachable, which is the safe side for a surface figure.
 */

export interface ReachOptions {
  readonly rootNamespace: string;
  readonly trustDomain: string;
  readonly trustDomainAliases: readonly string[];
}

export const DEFAULT_REACH_OPTIONS: ReachOptions = {
  rootNamespace: ISTIO_DEFAULTS.rootNamespace,
  trustDomain: ISTIO_DEFAULTS.trustDomain,
  trustDomainAliases: [],
};

/** Enforced policies (not dry-run, not targetRef) that select the workload. */
export function selecting(policies: readonly PolicyEntry[], w: WorkloadRef, root: string): PolicyEntry[] {
  return policies.filter((e) => {
    const p = e.policy;
    if (e.dryRun || p.spec.targetRef !== undefined || p.spec.targetRefs !== undefined) return false;
    if (p.metadata.namespace !== w.namespace && p.metadata.namespace !== root) return false;
    const match = p.spec.selector?.matchLabels ?? {};
    return Object.entries(match).every(([k, v]) => w.labels[k] === v);
  });
}

/** Istio string match: `*` = non-empty, `*x` suffix, `x*` prefix, else exact. */
export function matchValue(value: string, s: string): boolean {
  if (value === '*') return s !== '';
  if (value.startsWith('*')) return s.endsWith(value.slice(1));
  if (value.endsWith('*')) return s.startsWith(value.slice(0, -1));
  return value === s;
}

function matchGlob(value: string, s: string): boolean {
  if (!value.includes('*')) return value === s;
  const re = new RegExp(`^${value.split('*').map(escapeRe).join('.*')}$`);
  return re.test(s);
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function principalOf(src: FlowSource): string {
  return src.spiffeId.startsWith('spiffe://') ? src.spiffeId.slice('spiffe://'.length) : src.spiffeId;
}

/**
 * A principal value matches the caller as enforcement matches it: the value is first written out for the local
 * trust domain and its aliases exactly as istiod does (policy/options.ts `expandPrincipal`), then each principal is
 * an Istio string match against the caller's ID.
 */
function matchPrincipal(value: string, src: FlowSource, o: ReachOptions): boolean {
  const p = principalOf(src);
  if (p === '') return false;
  return expandPrincipal(value, o).some((v) => matchValue(v, p));
}

function matchServiceAccount(value: string, src: FlowSource, policyNs: string): boolean {
  if (src.serviceAccount === '') return false;
  const [ns, sa] = value.includes('/') ? value.split('/', 2) : [policyNs, value];
  return ns === src.namespace && sa === src.serviceAccount;
}

type Tri = 'yes' | 'maybe' | 'no';

/** Identity fields exactly; other fields are `maybe` (some request could satisfy them). */
function sourceMatches(s: PolicySource, src: FlowSource, ns: string, o: ReachOptions): Tri {
  const any = <T>(vals: readonly T[] | undefined, f: (v: T) => boolean): boolean | undefined =>
    vals === undefined ? undefined : vals.some(f);
  const checks: Array<boolean | undefined> = [
    any(s.principals, (v) => matchPrincipal(v, src, o)),
    negate(any(s.notPrincipals, (v) => matchPrincipal(v, src, o))),
    any(s.namespaces, (v) => src.namespace !== '' && matchGlob(v, src.namespace)),
    negate(any(s.notNamespaces, (v) => src.namespace !== '' && matchGlob(v, src.namespace))),
    any(s.serviceAccounts, (v) => matchServiceAccount(v, src, ns)),
    negate(any(s.notServiceAccounts, (v) => matchServiceAccount(v, src, ns))),
  ];
  if (checks.some((c) => c === false)) return 'no';
  // trustDomains (Istio 1.30.2+) is not decided here: `maybe`, never a wrong `yes`.
  const other =
    s.trustDomains ??
    s.notTrustDomains ??
    s.requestPrincipals ??
    s.notRequestPrincipals ??
    s.ipBlocks ??
    s.notIpBlocks ??
    s.remoteIpBlocks ??
    s.notRemoteIpBlocks;
  return other === undefined ? 'yes' : 'maybe';
}

const negate = (b: boolean | undefined): boolean | undefined => (b === undefined ? undefined : !b);

const SOURCE_KEYS: Readonly<Record<string, (src: FlowSource) => string>> = {
  'source.principal': principalOf,
  'source.namespace': (s) => s.namespace,
  'source.serviceAccount': (s) => (s.serviceAccount === '' ? '' : `${s.namespace}/${s.serviceAccount}`),
  'source.trustDomain': (s) => s.trustDomain,
};

/** How a rule matches requests from this caller: always, for some requests, or never. */
export function ruleMatches(rule: PolicyRule, src: FlowSource, ns: string, o: ReachOptions): Tri {
  let result: Tri = 'yes';
  if (rule.from !== undefined) {
    const r = rule.from.map((f) => sourceMatches(f.source, src, ns, o));
    if (r.includes('yes')) result = 'yes';
    else if (r.includes('maybe')) result = 'maybe';
    else return 'no';
  }
  if (rule.to !== undefined) result = 'maybe';
  for (const c of rule.when ?? []) {
    const get = SOURCE_KEYS[c.key];
    if (get === undefined) {
      result = 'maybe';
      continue;
    }
    const v = get(src);
    if (c.values !== undefined && !c.values.some((x) => v !== '' && matchValue(x, v))) return 'no';
    if (c.notValues?.some((x) => v !== '' && matchValue(x, v))) return 'no';
  }
  return result;
}

/** True when some request from `src` could be allowed at `w`. */
export function canReach(policies: readonly PolicyEntry[], src: FlowSource, w: WorkloadRef, o: ReachOptions): boolean {
  const applied = selecting(policies, w, o.rootNamespace);
  for (const e of applied) {
    if (actionOf(e.policy) !== 'DENY') continue;
    for (const rule of e.policy.spec.rules ?? []) {
      if (ruleMatches(rule, src, e.policy.metadata.namespace, o) === 'yes') return false;
    }
  }
  const allows = applied.filter((e) => actionOf(e.policy) === 'ALLOW');
  if (allows.length === 0) return true;
  return allows.some((e) =>
    (e.policy.spec.rules ?? []).some((rule) => ruleMatches(rule, src, e.policy.metadata.namespace, o) !== 'no'),
  );
}

export interface SurfaceFigure {
  /** Caller identities × workloads considered. */
  readonly pairs: number;
  readonly before: number;
  readonly after: number;
  /** `before - after`. */
  readonly reduction: number;
  /** `reduction / before`, 0 when nothing was reachable. */
  readonly reductionRatio: number;
}

/** Allowed source→destination pairs under two policy sets, over the same identities and workloads. */
export function surface(
  before: readonly PolicyEntry[],
  after: readonly PolicyEntry[],
  identities: readonly FlowSource[],
  workloads: readonly WorkloadRef[],
  o: ReachOptions,
): SurfaceFigure {
  let b = 0;
  let a = 0;
  for (const w of workloads) {
    for (const src of identities) {
      if (canReach(before, src, w, o)) b++;
      if (canReach(after, src, w, o)) a++;
    }
  }
  const reduction = b - a;
  return {
    pairs: identities.length * workloads.length,
    before: b,
    after: a,
    reduction,
    reductionRatio: b === 0 ? 0 : reduction / b,
  };
}
