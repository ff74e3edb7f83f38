import type { AuthorizationPolicy, PolicyOperation, PolicyRule } from '../policy/model.js';
import { policyName } from '../policy/types.js';
import { isLearnablePath } from './template.js';
import { destinationKey, destinationName, type FlowDestination, type FlowRecord, sourceName } from './types.js';

/**
 * Observed flows → least-privilege ALLOW policies, at one of three granularities:
 * - `namespace`: one policy per destination namespace (no selector), one rule per calling namespace;
 * - `workload`: one policy per destination workload (its selector labels), one rule per caller identity;
 * - `operation`: as `workload`, with each rule limited to the ports, methods and path templates observed.
 *
 * Only flows the current policy let through are learned (`decisions.allowed > 0`): a flow that was only ever
 * denied, or allowed only because of dry-run, is not a dependency the mesh has today, and learning it would turn
 * a stray caller into a permanent one. Callers with no verified identity cannot be named in a policy; they are
 * reported, never allowed. The result is exact at its granularity: it allows every learned flow and no other
 * (caller, destination[, operation]) combination, which the tests check with the policy engine.
 */

export type Granularity = 'namespace' | 'workload' | 'operation';
export const GRANULARITIES: readonly Granularity[] = ['namespace', 'workload', 'operation'];

/**
 * Why a flow was not learned: `denied` (never allowed), `anonymous` (no verified caller), `excluded` (by option),
 * `unresolved` (its destination has no naming label, so no selector can name that workload alone), `path` (its
 * recorded path cannot be written as a policy path that matches only it).
 */
export type SkipReason = 'denied' | 'anonymous' | 'excluded' | 'unresolved' | 'path';

export interface SuggestOptions {
  readonly granularity: Granularity;
  /** Also learn flows that were only denied or would-be denied (not the default; see above). */
  readonly learnDenied?: boolean;
  /** Caller identities never to learn (`ns/sa`, a SPIFFE ID, or a `*` prefix/suffix pattern of either). */
  readonly excludeSources?: readonly string[];
  /**
   * Workloads known by their full labels (the config's `policy.workloads`, or a workload registry's entries): a
   * destination recorded without a naming label is resolved to the one workload whose labels include it, when
   * exactly one does and that one has a naming label. Anything else stays unresolved.
   */
  readonly workloads?: readonly { readonly namespace: string; readonly labels: Readonly<Record<string, string>> }[];
}

/** Labels that name a workload (the same list, in the same order, as monitor mode uses). */
export const NAMING_LABELS: readonly string[] = ['app', 'app.kubernetes.io/name', 'service.istio.io/canonical-name'];

/**
 * The destination as a selector can name it alone, or null. A destination recorded without a naming label would
 * otherwise become a policy selecting by whatever labels were seen, or none at all: a namespace-wide policy that
 * admits its callers to workloads they never called.
 */
export function resolveDestination(
  d: FlowDestination,
  known: SuggestOptions['workloads'] = [],
): FlowDestination | null {
  const named = (labels: Readonly<Record<string, string>>): FlowDestination | null => {
    for (const key of NAMING_LABELS) {
      const v = labels[key];
      if (v !== undefined && v !== '') return { namespace: d.namespace, workload: v, labels: { [key]: v } };
    }
    return null;
  };
  const direct = named(d.labels);
  if (direct !== null) return direct;
  const seen = Object.entries(d.labels);
  if (seen.length === 0) return null;
  const matches = known.filter((w) => w.namespace === d.namespace && seen.every(([k, v]) => w.labels[k] === v));
  return matches.length === 1 ? named(matches[0]!.labels) : null;
}

export interface SuggestedPolicy {
  readonly policy: AuthorizationPolicy;
  /** Parallel to `policy.spec.rules`: the flows each rule was made from. */
  readonly covers: readonly (readonly FlowRecord[])[];
}

export interface Suggestion {
  readonly granularity: Granularity;
  readonly policies: readonly SuggestedPolicy[];
  readonly learned: readonly FlowRecord[];
  readonly skipped: readonly { readonly flow: FlowRecord; readonly reason: SkipReason }[];
}

const API_VERSION = 'security.istio.io/v1';

export function principalOf(f: FlowRecord): string {
  const id = f.source.spiffeId;
  return id.startsWith('spiffe://') ? id.slice('spiffe://'.length) : id;
}

function excluded(f: FlowRecord, patterns: readonly string[]): boolean {
  const names = [sourceName(f.source), f.source.spiffeId];
  return patterns.some((p) =>
    names.some((n) =>
      p.startsWith('*') ? n.endsWith(p.slice(1)) : p.endsWith('*') ? n.startsWith(p.slice(0, -1)) : n === p,
    ),
  );
}

function classify(flows: readonly FlowRecord[], o: SuggestOptions): Pick<Suggestion, 'learned' | 'skipped'> {
  const learned: FlowRecord[] = [];
  const skipped: { flow: FlowRecord; reason: SkipReason }[] = [];
  const perWorkload = o.granularity !== 'namespace';
  for (const f of flows) {
    if (f.source.spiffeId === '') skipped.push({ flow: f, reason: 'anonymous' });
    else if (excluded(f, o.excludeSources ?? [])) skipped.push({ flow: f, reason: 'excluded' });
    else if (f.decisions.allowed === 0 && !o.learnDenied) skipped.push({ flow: f, reason: 'denied' });
    else if (o.granularity === 'operation' && !isLearnablePath(f.path)) skipped.push({ flow: f, reason: 'path' });
    else if (!perWorkload) learned.push(f);
    else {
      const dest = resolveDestination(f.destination, o.workloads);
      if (dest === null) skipped.push({ flow: f, reason: 'unresolved' });
      // Learned as the workload its naming label names (the selector the suggestion writes).
      else learned.push(dest === f.destination ? f : { ...f, destination: dest });
    }
  }
  return { learned, skipped };
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const it of [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))) {
    const k = key(it);
    const list = m.get(k);
    if (list) list.push(it);
    else m.set(k, [it]);
  }
  return m;
}

/** A DNS-1123 label: lowercase alphanumerics and `-`, at most 63 characters. */
export function dnsLabel(s: string): string {
  const l = s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '');
  return l === '' ? 'x' : l;
}

function policyDoc(
  name: string,
  namespace: string,
  dest: FlowDestination | null,
  rules: PolicyRule[],
): AuthorizationPolicy {
  const labels = dest?.labels ?? {};
  return {
    apiVersion: API_VERSION,
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'mesh-authz-discover' } },
    spec: {
      ...(Object.keys(labels).length > 0 ? { selector: { matchLabels: { ...labels } } } : {}),
      action: 'ALLOW',
      rules,
    },
  };
}

/** The `from` of a rule admitting one caller identity (or one calling namespace). */
function fromFor(f: FlowRecord, granularity: Granularity): PolicyRule['from'] {
  if (granularity === 'namespace' && f.source.namespace !== '') {
    return [{ source: { namespaces: [f.source.namespace] } }];
  }
  return [{ source: { principals: [principalOf(f)] } }];
}

/** Operations for one caller: one per (port, method), with its paths, so no method is allowed on another's paths. */
function operationsFor(flows: readonly FlowRecord[]): { operation: PolicyOperation }[] {
  const out: { operation: PolicyOperation }[] = [];
  for (const [, group] of groupBy(flows, (f) => `${String(f.port).padStart(5, '0')} ${f.method}`)) {
    const first = group[0]!;
    const paths = [...new Set(group.map((f) => f.path))].sort();
    out.push({
      operation: {
        ...(first.port > 0 ? { ports: [String(first.port)] } : {}),
        methods: [first.method],
        paths,
      },
    });
  }
  return out;
}

export function suggestPolicies(flows: readonly FlowRecord[], o: SuggestOptions): Suggestion {
  const { learned, skipped } = classify(flows, o);
  const policies: SuggestedPolicy[] = [];
  const callerKey = (f: FlowRecord): string =>
    o.granularity === 'namespace' && f.source.namespace !== '' ? `ns:${f.source.namespace}` : `id:${f.source.spiffeId}`;

  if (o.granularity === 'namespace') {
    for (const [ns, inNs] of groupBy(learned, (f) => f.destination.namespace)) {
      const rules: PolicyRule[] = [];
      const covers: FlowRecord[][] = [];
      for (const [, fromOne] of groupBy(inNs, callerKey)) {
        rules.push({ from: fromFor(fromOne[0]!, 'namespace') });
        covers.push(fromOne);
      }
      policies.push({ policy: policyDoc('discovered-namespace', ns, null, rules), covers });
    }
    return { granularity: o.granularity, policies, learned, skipped };
  }

  const usedNames = new Set<string>();
  for (const [, toOne] of groupBy(learned, (f) => destinationKey(f.destination))) {
    const dest = toOne[0]!.destination;
    const rules: PolicyRule[] = [];
    const covers: FlowRecord[][] = [];
    for (const [, fromOne] of groupBy(toOne, callerKey)) {
      const from = fromFor(fromOne[0]!, o.granularity);
      rules.push(o.granularity === 'operation' ? { from, to: operationsFor(fromOne) } : { from });
      covers.push(fromOne);
    }
    let name = dnsLabel(`discovered-${dest.workload === '*' ? 'all' : dest.workload}`);
    const taken = (n: string) => usedNames.has(policyName({ namespace: dest.namespace, name: n }));
    for (let i = 2; taken(name); i++) name = dnsLabel(`${name.slice(0, 58)}-${i}`);
    usedNames.add(policyName({ namespace: dest.namespace, name }));
    policies.push({ policy: policyDoc(name, dest.namespace, dest, rules), covers });
  }
  return { granularity: o.granularity, policies, learned, skipped };
}

/** One comment line per covered flow, for the YAML written above each rule. */
export function describeFlow(f: FlowRecord): string {
  const port = f.port > 0 ? `:${f.port}` : '';
  const groups = f.groups.length > 0 ? ` groups=${f.groups.join(',')}` : '';
  return `${sourceName(f.source)} -> ${destinationName(f.destination)}${port} ${f.method} ${f.path} (${f.count} requests, ${f.firstSeen} .. ${f.lastSeen})${groups}`;
}
