import { compilePolicySet, type LoadedPolicy, validatePolicy } from '../policy/index.js';
import type { PathNormalization } from '../policy/normalize.js';
import type { CompiledPolicySet, SourceLocation } from '../policy/types.js';
import { loadPolicyPaths } from '../sources/policy-files.js';
import type { PolicyEntry, PolicyProblem } from './policy-model.js';

/**
 * What discovery needs from the policy engine (`src/policy`): load the current policies, validate what it
 * writes exactly as the cluster would, and compile policies to evaluate flows. An interface, so the analysis code
 * can be exercised with any engine; {@link policyEngine} is the real one.
 */
export interface PolicyEngine {
  loadPolicyPaths(paths: readonly string[]): Promise<{
    readonly policies: readonly PolicyEntry[];
    readonly issues: readonly (PolicyProblem & { readonly file: string; readonly line: number })[];
  }>;
  validatePolicy(obj: unknown, source: SourceLocation | null): readonly PolicyProblem[];
  compile(policies: readonly PolicyEntry[], options: EngineCompileOptions): CompiledPolicySet;
}

export interface EngineCompileOptions {
  readonly rootNamespace: string;
  readonly pathNormalization: PathNormalization;
  readonly trustDomain: string;
  readonly trustDomainAliases: readonly string[];
}

const GENERATED: SourceLocation = { file: '<discovered>', line: 0 };

/**
 * Discovery's entries mirror the engine's `LoadedPolicy` field for field; the only gap is the document type's
 * literal `apiVersion`. Entries reach `compile` either from the engine's own loader or, for suggestions, after
 * `validatePolicy` accepted them, so the conversion below only fills a missing source location.
 */
function toLoaded(policies: readonly PolicyEntry[]): LoadedPolicy[] {
  return policies.map((e) => ({ ...e, source: e.source ?? GENERATED }) as LoadedPolicy);
}

export const policyEngine: PolicyEngine = {
  loadPolicyPaths: (paths) => loadPolicyPaths(paths),
  validatePolicy: (obj, source) => validatePolicy(obj, source),
  compile: (policies, options) => compilePolicySet(toLoaded(policies), options, 1),
};
