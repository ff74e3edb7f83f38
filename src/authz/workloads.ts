import type { PolicyTargetRef } from '../policy/types.js';

/**
 * A workload as a registry knows it: where it runs and what selects it. Registries are fed by `sources/`
 * (Kubernetes Pods, or `policy.workloads` in the config file) and read by workload resolution on the Check
 * path, so lookups are synchronous and allocation-free.
 */
export interface RegisteredWorkload {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount?: string;
  /** Pod or workload name, for explanations. */
  readonly name?: string;
  /** Services/Gateways that target this workload (for `targetRef` policies). */
  readonly targets?: readonly PolicyTargetRef[];
}

/** How the destination workload of a request was found; goes on the decision (explain, log, span). */
export type WorkloadResolution =
  | 'context_extensions'
  | 'destination_labels'
  | 'registry_address'
  | 'registry_principal'
  | 'namespace_only'
  | 'unresolved';

/** Read side of a workload registry. Implementations swap their tables atomically on change. */
export interface WorkloadRegistry {
  /** The workload serving at this IP address (pod IP), if exactly one is known. */
  byAddress(ip: string): RegisteredWorkload | undefined;
  /** Every workload running as this namespace + service account. */
  byServiceAccount(namespace: string, serviceAccount: string): readonly RegisteredWorkload[];
  /** False until the registry has completed its first full load (a Kubernetes list, or the config). */
  readonly synced: boolean;
}

/** A registry that knows nothing: resolution falls back to what Envoy sent. */
export const EMPTY_REGISTRY: WorkloadRegistry = {
  byAddress: () => undefined,
  byServiceAccount: () => [],
  synced: true,
};

/**
 * Several registries asked in order (Kubernetes Pods, then `policy.workloads`): the first that knows an address
 * answers; by service account, the first registry with any match answers. A registry not synced yet is skipped:
 * it can only add knowledge, and what it lacks falls to the fail-closed rule (`workload_unresolved`).
 */
export function combineRegistries(registries: readonly WorkloadRegistry[]): WorkloadRegistry {
  return {
    synced: true,
    byAddress(ip) {
      for (const r of registries) {
        if (!r.synced) continue;
        const w = r.byAddress(ip);
        if (w !== undefined) return w;
      }
      return undefined;
    },
    byServiceAccount(namespace, serviceAccount) {
      for (const r of registries) {
        if (!r.synced) continue;
        const list = r.byServiceAccount(namespace, serviceAccount);
        if (list.length > 0) return list;
      }
      return [];
    },
  };
}
