import { type Decision, policyName, type WorkloadRef } from '../policy/types.js';
import { flowRequest } from './attributes.js';
import { destinationName, type FlowRecord, sourceName } from './types.js';

/**
 * `impact`: what a policy change would do to the traffic the mesh really has. Every recorded flow is replayed
 * against the policy set in force and the proposed one, with the same engine, path normalization and workload
 * labels `serve` uses, and every flow whose decision changes is reported, grouped by caller → callee → operation.
 * Newly denied flows are the outage the change would cause; newly allowed ones the access it would open.
 * Pure: flows and two evaluators in, a report out.
 */

export type Evaluate = (workload: WorkloadRef, request: ReturnType<typeof flowRequest>) => Decision;

export interface ImpactInput {
  readonly flows: readonly FlowRecord[];
  readonly current: Evaluate;
  readonly proposed: Evaluate;
  /** Resolves a flow's destination to the workload the policies see (see {@link workloadResolver}). */
  readonly workload: (f: FlowRecord) => WorkloadRef;
}

/** What decided, on one side: `ns/name rule N`, `ns/name` (a DENY/no rule), or why nothing did. */
export type Decider = string;

export interface ImpactChange {
  readonly caller: string;
  readonly callee: string;
  /** `METHOD path` (with `:port` when recorded). */
  readonly operation: string;
  /** Flow records in this group (they differ by end-user groups). */
  readonly flows: number;
  readonly requests: number;
  readonly before: readonly Decider[];
  readonly after: readonly Decider[];
}

export interface ImpactReport {
  readonly flows: number;
  readonly requests: number;
  /** Caller → callee → operation groups whose every flow keeps its decision. */
  readonly unchanged: number;
  readonly newlyDenied: readonly ImpactChange[];
  readonly newlyAllowed: readonly ImpactChange[];
  /** Requests in the newly denied / allowed groups. */
  readonly newlyDeniedRequests: number;
  readonly newlyAllowedRequests: number;
}

export function decider(d: Decision): Decider {
  if (d.policy === null) {
    return d.code === 'no_allow_policy' ? 'no policy (allow)' : `default deny (${d.code})`;
  }
  const name = policyName(d.policy);
  return d.ruleIndex === null ? name : `${name} rule ${d.ruleIndex}`;
}

interface Group {
  caller: string;
  callee: string;
  operation: string;
  flows: number;
  requests: number;
  before: Set<string>;
  after: Set<string>;
}

export function replayImpact(input: ImpactInput): ImpactReport {
  const denied = new Map<string, Group>();
  const allowed = new Map<string, Group>();
  const unchanged = new Set<string>();
  let requests = 0;
  for (const f of input.flows) {
    requests += f.count;
    const w = input.workload(f);
    const req = flowRequest(f);
    const before = input.current(w, req);
    const after = input.proposed(w, req);
    const port = f.port > 0 ? `:${f.port}` : '';
    const key = [sourceName(f.source), destinationName(f.destination), `${f.method} ${f.path}${port}`];
    const id = key.join('\u0000');
    if (before.allowed === after.allowed) {
      unchanged.add(id);
      continue;
    }
    const into = before.allowed ? denied : allowed;
    let g = into.get(id);
    if (g === undefined) {
      g = {
        caller: key[0]!,
        callee: key[1]!,
        operation: key[2]!,
        flows: 0,
        requests: 0,
        before: new Set(),
        after: new Set(),
      };
      into.set(id, g);
    }
    g.flows++;
    g.requests += f.count;
    g.before.add(decider(before));
    g.after.add(decider(after));
  }
  for (const id of [...denied.keys(), ...allowed.keys()]) unchanged.delete(id);
  const list = (m: Map<string, Group>): ImpactChange[] =>
    [...m.values()]
      .map((g) => ({ ...g, before: [...g.before].sort(), after: [...g.after].sort() }))
      .sort((a, b) => b.requests - a.requests || cmp(a.caller, b.caller) || cmp(a.callee, b.callee));
  const newlyDenied = list(denied);
  const newlyAllowed = list(allowed);
  return {
    flows: input.flows.length,
    requests,
    unchanged: unchanged.size,
    newlyDenied,
    newlyAllowed,
    newlyDeniedRequests: newlyDenied.reduce((n, c) => n + c.requests, 0),
    newlyAllowedRequests: newlyAllowed.reduce((n, c) => n + c.requests, 0),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The workload the policies see for a flow's destination. Monitor mode records the naming label (`app`, …) the
 * way `serve` resolved the destination; when the config lists the workload (`policy.workloads`) and exactly one
 * entry carries those labels, its full label set is used, so a policy selecting on another label (`version`)
 * is evaluated as `serve` evaluates it. Otherwise the recorded labels are all there is.
 */
export function workloadResolver(
  known: readonly { readonly namespace: string; readonly labels: Readonly<Record<string, string>> }[],
): (f: FlowRecord) => WorkloadRef {
  return (f) => {
    const d = f.destination;
    const seen = Object.entries(d.labels);
    const matches =
      seen.length === 0
        ? []
        : known.filter((w) => w.namespace === d.namespace && seen.every(([k, v]) => w.labels[k] === v));
    const labels = matches.length === 1 ? matches[0]!.labels : d.labels;
    return { namespace: d.namespace, labels };
  };
}
