import type { CompiledPolicySet, SourceLocation } from '../policy/types.js';
import type { PolicyEntry, PolicyProblem } from './policy-model.js';

/**
 * What discovery needs from the policy engine (`src/policy`): load the current policies, validate what it
 * writes exactly as the cluster would, and compile policies to evaluate flows. Passed in, so the analysis code
 * stays testable with any engine and the CLI decides which one to use.
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
  readonly pathNormalization: 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';
  readonly trustDomain: string;
  readonly trustDomainAliases: readonly string[];
}

export type EngineErrorCode = 'engine_unavailable';

export class EngineError extends Error {
  override readonly name = 'EngineError';
  readonly code: EngineErrorCode = 'engine_unavailable';
}

type Fn = (...args: unknown[]) => unknown;

/**
 * Binds the policy engine module. The specifier is resolved at run time so that this folder builds on its own;
 * the module's shape is checked before use and a missing function is an {@link EngineError}, never a crash later.
 */
export async function loadPolicyEngine(specifier = '../policy/index.js'): Promise<PolicyEngine> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (err) {
    throw new EngineError(`the policy engine is not available: ${(err as Error).message}`, { cause: err });
  }
  const need = ['loadPolicyPaths', 'validatePolicy', 'compilePolicySet'] as const;
  for (const name of need) {
    if (typeof mod[name] !== 'function') throw new EngineError(`the policy engine does not export ${name}()`);
  }
  const load = mod['loadPolicyPaths'] as Fn;
  const validate = mod['validatePolicy'] as Fn;
  const compile = mod['compilePolicySet'] as Fn;
  return {
    loadPolicyPaths: async (paths) => (await load(paths)) as Awaited<ReturnType<PolicyEngine['loadPolicyPaths']>>,
    validatePolicy: (obj, source) => validate(obj, source) as readonly PolicyProblem[],
    compile: (policies, options) => compile(policies, options, 1) as CompiledPolicySet,
  };
}
