/**
 * The plain records discovery works with. A {@link FlowRecord} is one line of the flows JSON Lines file: one
 * source identity calling one destination workload with one operation (port, method, path template), with its
 * counts over a time window. Records are additive: merging two records with the same key sums the counts.
 */

/** Who called. `spiffeId` is '' for a caller with no verified identity (plaintext or unverifiable). */
export interface FlowSource {
  readonly spiffeId: string;
  readonly trustDomain: string;
  /** `<ns>` of a Kubernetes-form SPIFFE ID, else ''. */
  readonly namespace: string;
  /** `<sa>` of a Kubernetes-form SPIFFE ID, else ''. */
  readonly serviceAccount: string;
}

/** The destination workload: its namespace and the labels a policy selector would use. */
export interface FlowDestination {
  readonly namespace: string;
  /** A short name for humans and policy names (the `app` label, else the first label value, else '*'). */
  readonly workload: string;
  /** The selector labels (a small, stable subset of the workload's labels). */
  readonly labels: Readonly<Record<string, string>>;
}

/** How the current policy treated the requests of a flow. */
export interface FlowDecisionCounts {
  /** Allowed by policy. */
  readonly allowed: number;
  /** Denied (enforced). */
  readonly denied: number;
  /** Allowed only because dry-run was on: the policy would have denied them. */
  readonly wouldDeny: number;
  /** Of the allowed ones, those a staged (`istio.io/dry-run`) policy would have denied. */
  readonly shadowDenied: number;
}

export interface FlowRecord {
  readonly type: 'flow';
  readonly source: FlowSource;
  readonly destination: FlowDestination;
  /** Destination (local) port; 0 when unknown. */
  readonly port: number;
  readonly method: string;
  /** The path template: query stripped, IDs/numbers/UUIDs/hashes collapsed to `{*}`. */
  readonly path: string;
  /** End-user groups seen on these requests (bounded). */
  readonly groups: readonly string[];
  readonly count: number;
  readonly decisions: FlowDecisionCounts;
  /** The policy that decided the last request (`ns/name`), or ''. */
  readonly policy: string;
  /** ISO-8601. */
  readonly firstSeen: string;
  readonly lastSeen: string;
}

/** A line the recorder writes after each flush: what the bound made it forget. */
export interface FlowDropRecord {
  readonly type: 'drops';
  readonly at: string;
  /** Flow entries evicted (least seen first) since the recorder started. */
  readonly evictedFlows: number;
  /** Requests those evicted entries counted that had not yet been flushed. */
  readonly evictedRequests: number;
  /** Path templates merged into coarser ones (`/a/{**}`, `/{**}`) because an operation had too many. */
  readonly collapsedPaths: number;
  /** Group names not recorded because an entry already held the maximum. */
  readonly droppedGroups: number;
}

/** The identity of a source as text: `ns/sa` when Kubernetes-form, else the SPIFFE ID, else `anonymous`. */
export function sourceName(s: FlowSource): string {
  if (s.namespace !== '' && s.serviceAccount !== '') return `${s.namespace}/${s.serviceAccount}`;
  return s.spiffeId !== '' ? s.spiffeId : 'anonymous';
}

/** `ns/workload`. */
export function destinationName(d: FlowDestination): string {
  return `${d.namespace}/${d.workload}`;
}

/** A stable key for a destination (namespace + selector labels). */
export function destinationKey(d: FlowDestination): string {
  const keys = Object.keys(d.labels);
  // The common case (one naming label) needs no sort.
  if (keys.length === 1) return `${d.namespace}|${keys[0]}=${d.labels[keys[0]!]}`;
  const labels = Object.keys(d.labels)
    .sort()
    .map((k) => `${k}=${d.labels[k]}`)
    .join(',');
  return `${d.namespace}|${labels}`;
}

/** A stable key for a whole flow record (everything but counts, groups, times and decisions). */
export function flowKey(r: Pick<FlowRecord, 'source' | 'destination' | 'port' | 'method' | 'path'>): string {
  return `${r.source.spiffeId}\u0000${destinationKey(r.destination)}\u0000${r.port}\u0000${r.method}\u0000${r.path}`;
}
