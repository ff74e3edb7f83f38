import { describeWorkload } from './lint.js';
import type { CompiledPolicySet, WorkloadRef } from './types.js';

/** What coverage reporting needs from the service: a warning sink and the gauge. */
export interface CoverageSink {
  warn(fields: Record<string, unknown>, message: string): void;
  setUncoveredWorkloads(count: number): void;
}

/**
 * Microsegmentation coverage: which of the known workloads (`policy.workloads` in the config) no enforced ALLOW
 * policy selects. Under Istio's semantics such a workload accepts every request, so `serve` says so at startup and
 * after every reload, and exports the count. Returns the uncovered workloads' descriptions.
 */
export function reportCoverage(
  set: CompiledPolicySet | null,
  config: { readonly workloads: readonly WorkloadRef[] },
  sink: CoverageSink,
): string[] {
  if (set === null || config.workloads.length === 0) return [];
  const uncovered = set
    .uncovered(config.workloads.map((w) => ({ namespace: w.namespace, labels: w.labels })))
    .map(describeWorkload);
  sink.setUncoveredWorkloads(uncovered.length);
  if (uncovered.length > 0) {
    sink.warn(
      { workloads: uncovered, generation: set.generation },
      `${uncovered.length} known workload(s) have no enforced ALLOW policy and accept every request: ${uncovered.join(', ')}`,
    );
  }
  return uncovered;
}
