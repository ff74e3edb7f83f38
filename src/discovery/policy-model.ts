import type {
  AuthorizationPolicy,
  PolicyCondition,
  PolicyOperation,
  PolicyRule,
  PolicySource,
} from '../policy/model.js';
import type { SourceLocation } from '../policy/types.js';

/**
 * The AuthorizationPolicy model as discovery reads and writes it: the policy engine's own types, so the engine's
 * `LoadedPolicy` values pass in as they are and the policies written here are what the engine validates.
 */

export { actionOf, DRY_RUN_ANNOTATION } from '../policy/model.js';
/** When a policy was put in dry-run (RFC 3339); `audit` measures how long it has been staged from it. */
export const DRY_RUN_SINCE_ANNOTATION = 'mesh-authz.io/dry-run-since';

export type PolicySourceDoc = PolicySource;
export type PolicyOperationDoc = PolicyOperation;
export type PolicyConditionDoc = PolicyCondition;
export type PolicyRuleDoc = PolicyRule;
export type PolicyDoc = AuthorizationPolicy;

/** A policy with where it came from and whether it is staged (same shape as the engine's `LoadedPolicy`). */
export interface PolicyEntry {
  readonly policy: PolicyDoc;
  readonly source: SourceLocation | null;
  readonly dryRun: boolean;
}

/** A problem the engine's validator found (same shape as the engine's `PolicyIssue`). */
export interface PolicyProblem {
  readonly severity: 'error' | 'warning';
  readonly path: string;
  readonly message: string;
  readonly code: string;
}

export const policyName = (p: PolicyDoc): string => `${p.metadata.namespace}/${p.metadata.name}`;
