import { makeKeyPlan, workloadKey } from '../../src/authz/cache-key.js';
import type {
  AttributeUse,
  CompiledPolicySet,
  Decision,
  Explanation,
  RequestAttributes,
  WorkloadRef,
} from '../../src/policy/types.js';

/**
 * Stand-in policy engines for tests and benchmarks that exercise the Check path, not the engine: they decide with a
 * plain function, and complete the engine interface with the least that stays true of them. `explain` carries the
 * decision `evaluate` makes but names no policy (a stand-in has none to name); `uncovered` reports no workload (the
 * tests that use a stand-in do not measure coverage, and reporting none keeps `serve` quiet about it); cache keys
 * are headed by the whole workload, since `evaluate` may read any of it.
 */
export interface StandInParts {
  readonly generation: number;
  attributesFor(workload: WorkloadRef): AttributeUse;
  evaluate(workload: WorkloadRef, request: RequestAttributes): Decision;
  labelsMatter?(namespace: string): boolean;
}

export function standInEngine(parts: StandInParts): CompiledPolicySet {
  const labelsMatter = parts.labelsMatter;
  return {
    generation: parts.generation,
    attributesFor: (workload) => parts.attributesFor(workload),
    evaluate: (workload, request) => parts.evaluate(workload, request),
    keyPlanFor: (workload) => makeKeyPlan(parts, workload, workloadKey(workload)),
    explain: (workload, request) => standInExplanation(parts, workload, request),
    uncovered: () => [],
    ...(labelsMatter === undefined ? {} : { labelsMatter: (namespace: string) => labelsMatter(namespace) }),
  };
}

/** The decision `engine.evaluate` makes, explained with no policy detail (a stand-in has no policies). */
export function standInExplanation(
  engine: Pick<CompiledPolicySet, 'evaluate'>,
  workload: WorkloadRef,
  request: RequestAttributes,
): Explanation {
  return {
    workload,
    decision: engine.evaluate(workload, request),
    normalizedPath: request.path,
    pathNormalization: 'NONE',
    policies: [],
    notAttached: [],
  };
}
