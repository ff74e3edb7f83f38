import type { RegisteredWorkload, WorkloadRegistry } from '../authz/workloads.js';
import { canonicalIp, type PolicyConfig } from '../config/schema.js';

/**
 * The workload registry of a mesh without Kubernetes (and of tests): `policy.workloads` in the config file.
 * Each entry may list its `addresses` (destination IPs) and `serviceAccount` (matched against the destination
 * principal `spiffe://<td>/ns/<namespace>/sa/<serviceAccount>`). Built once from the config; never changes.
 */
export function configWorkloadRegistry(workloads: PolicyConfig['workloads']): WorkloadRegistry {
  const byIp = new Map<string, RegisteredWorkload>();
  const bySa = new Map<string, RegisteredWorkload[]>();
  workloads.forEach((w, i) => {
    const entry: RegisteredWorkload = Object.freeze({
      namespace: w.namespace,
      labels: Object.freeze({ ...w.labels }),
      ...(w.serviceAccount !== undefined ? { serviceAccount: w.serviceAccount } : {}),
      name: w.name ?? `policy.workloads[${i}]`,
    });
    // The schema refuses an address listed twice, so `set` never overwrites.
    for (const a of w.addresses) byIp.set(canonicalIp(a), entry);
    if (w.serviceAccount !== undefined) {
      const key = saKey(w.namespace, w.serviceAccount);
      const list = bySa.get(key);
      if (list) list.push(entry);
      else bySa.set(key, [entry]);
    }
  });
  return {
    synced: true,
    byAddress: (ip) => byIp.get(ip) ?? (byIp.size === 0 ? undefined : byIp.get(canonicalIp(ip))),
    byServiceAccount: (namespace, serviceAccount) => bySa.get(saKey(namespace, serviceAccount)) ?? NONE,
  };
}

const NONE: readonly RegisteredWorkload[] = Object.freeze([]);

function saKey(namespace: string, serviceAccount: string): string {
  // NUL cannot occur in Kubernetes names, so the key is unambiguous.
  return `${namespace}\u0000${serviceAccount}`;
}
