/**
 * The policy engine: Istio AuthorizationPolicy (security.istio.io/v1 and v1beta1) loaded, validated as the
 * cluster would, compiled into a per-workload index and evaluated with Istio's semantics.
 *
 * - Model: {@link AuthorizationPolicy}, {@link LoadedPolicy} (with its `file:line`), {@link PolicyIssue},
 *   {@link PolicyLoadError}.
 * - Parse: {@link parsePolicyText} (text → policies with file:line); validate: {@link validatePolicy} (the reconciler and
 *   discovery call it so they never emit a policy the cluster would reject).
 * - Compile: {@link compilePolicySet} → {@link PolicySet}, swapped in atomically with a new generation by
 *   `sources/`' policy store. Read through the one engine interface {@link CompiledPolicySet}: `evaluate`,
 *   `explain`, `attributesFor`, `keyPlanFor`, `labelsMatter`, `uncovered`.
 * - Explain and lint: {@link formatExplanation}, {@link lintPolicies}.
 * - {@link normalizePath}: Istio's path normalization options.
 *
 * Pure: no file or network I/O, no logging. Files are read and watched in `sources/` (`loadPolicyPaths`,
 * `PolicyStore`), which feed this engine text.
 */
export { formatExplanation } from './explain.js';
export { describeWorkload, type LintOptions, lintPolicies } from './lint.js';
export {
  type AuthorizationPolicy,
  type AuthorizationPolicySpec,
  actionOf,
  DRY_RUN_ANNOTATION,
  formatIssue,
  type LoadedPolicy,
  lineOf,
  POLICY_API_VERSIONS,
  type PolicyApiVersion,
  type PolicyCondition,
  type PolicyIssue,
  type PolicyIssueCode,
  PolicyLoadError,
  type PolicyLoadErrorCode,
  type PolicyOperation,
  type PolicyRule,
  type PolicySource,
} from './model.js';
export {
  type NormalizedPath,
  normalizePath,
  PATH_NORMALIZATIONS,
  type PathNormalization,
  stripQuery,
} from './normalize.js';
export { type CompileOptions, type ResolvedCompileOptions, resolveCompileOptions } from './options.js';
export { duplicateIssues, formatIssues, type ParsedPolicies, parsePolicyText } from './parse.js';
export { compilePolicySet, PolicySet } from './set.js';
export { ALLOWED_TARGET_KINDS, canonicalGroup, describeTarget, isAllowedTargetKind } from './targets.js';
export type * from './types.js';
export { validatePolicy } from './validate.js';
