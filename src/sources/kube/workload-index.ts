import type { RegisteredWorkload } from '../../authz/workloads.js';
import type { PolicyTargetRef } from '../../policy/types.js';
import type { KubeObject } from './object.js';

/**
 * Pods and Services → the lookup tables of the workload registry. Pure: the registry rebuilds the whole index on a
 * change and swaps it in, so a lookup never sees half an update.
 *
 * Rules (what a pod IP may stand for):
 * - only `Running` pods with an IP are indexed by address: a Pending pod has no IP yet, and a Succeeded/Failed
 *   pod's IP is free for the kubelet to give to a new pod;
 * - a host-network pod shares its node's IP with every other host-network pod on that node and with the node
 *   itself, so it is never indexed by IP (it still is by service account);
 * - two Running pods claiming one IP (an IP reused before the old pod's update arrived) make that IP ambiguous:
 *   it resolves to nothing, and the Check path fails closed, never to a guess;
 * - a Service selects the pods of its own namespace whose labels include all of its selector; a Service without a
 *   selector (ExternalName, manually managed Endpoints) selects nothing.
 */

export interface WorkloadIndex {
  readonly byIp: ReadonlyMap<string, RegisteredWorkload>;
  readonly bySa: ReadonlyMap<string, readonly RegisteredWorkload[]>;
  /** Indexed pods (for metrics and snapshots). */
  readonly pods: number;
}

/** One pod as the registry keeps it (also the snapshot format). */
export interface WorkloadEntry extends RegisteredWorkload {
  readonly ips: readonly string[];
}

interface PodShape {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: { serviceAccountName?: string; hostNetwork?: boolean };
  status?: { phase?: string; podIP?: string; podIPs?: { ip?: string }[] };
}

interface ServiceShape {
  metadata?: { name?: string; namespace?: string };
  spec?: { selector?: Record<string, string> };
}

export const EMPTY_INDEX: WorkloadIndex = { byIp: new Map(), bySa: new Map(), pods: 0 };

/** The entries for the pods that can be resolved (Running), with the Services that select each. */
export function workloadEntries(pods: Iterable<KubeObject>, services: Iterable<KubeObject>): WorkloadEntry[] {
  const selectors = new Map<string, { name: string; selector: [string, string][] }[]>();
  for (const s of services as Iterable<ServiceShape>) {
    const ns = s.metadata?.namespace;
    const selector = Object.entries(s.spec?.selector ?? {});
    if (!ns || !s.metadata?.name || selector.length === 0) continue;
    selectors.set(ns, [...(selectors.get(ns) ?? []), { name: s.metadata.name, selector }]);
  }
  const out: WorkloadEntry[] = [];
  for (const p of pods as Iterable<PodShape>) {
    const namespace = p.metadata?.namespace;
    if (!namespace || p.status?.phase !== 'Running') continue;
    const labels = { ...(p.metadata?.labels ?? {}) };
    const targets: PolicyTargetRef[] = [];
    for (const s of selectors.get(namespace) ?? []) {
      if (s.selector.every(([k, v]) => labels[k] === v)) {
        targets.push({ group: '', kind: 'Service', name: s.name, namespace });
      }
    }
    const ips = p.spec?.hostNetwork ? [] : podIps(p);
    out.push({
      namespace,
      labels,
      // The API server defaults an empty serviceAccountName to `default`.
      serviceAccount: p.spec?.serviceAccountName || 'default',
      ...(p.metadata?.name ? { name: p.metadata.name } : {}),
      targets,
      ips,
    });
  }
  return out;
}

/** Builds the lookup tables from entries (live, or loaded from a snapshot). */
export function buildIndex(entries: readonly WorkloadEntry[]): WorkloadIndex {
  const byIp = new Map<string, RegisteredWorkload>();
  const ambiguous = new Set<string>();
  const bySa = new Map<string, RegisteredWorkload[]>();
  for (const e of entries) {
    const { ips: _ips, ...workload } = e;
    for (const ip of e.ips) {
      if (byIp.has(ip)) ambiguous.add(ip);
      else byIp.set(ip, workload);
    }
    const key = saKey(e.namespace, e.serviceAccount ?? 'default');
    const list = bySa.get(key);
    if (list) list.push(workload);
    else bySa.set(key, [workload]);
  }
  for (const ip of ambiguous) byIp.delete(ip);
  return { byIp, bySa, pods: entries.length };
}

export function saKey(namespace: string, serviceAccount: string): string {
  return `${namespace}/${serviceAccount}`;
}

function podIps(p: PodShape): string[] {
  const ips = new Set<string>();
  if (p.status?.podIP) ips.add(p.status.podIP);
  for (const { ip } of p.status?.podIPs ?? []) if (ip) ips.add(ip);
  return [...ips];
}
