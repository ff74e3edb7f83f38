import type { AuthorizationPolicy, PolicyIssue } from '../policy/model.js';
import type { SourceLocation } from '../policy/types.js';

/**
 * What discovery adds to the policy engine's model: it reads and writes the engine's own types
 * (`AuthorizationPolicy`, `PolicyRule`, ... from `policy/model.ts`), so the policies written here are what the
 * engine validates. A policy discovery handles may have no file (a suggestion, a policy from the API server).
 */

/** When a policy was put in dry-run (RFC 3339); `audit` measures how long it has been staged from it. */
export const DRY_RUN_SINCE_ANNOTATION = 'mesh-authz.io/dry-run-since';

/** A policy with where it came from, if anywhere, and whether it is staged (the engine's `LoadedPolicy`, file optional). */
export interface PolicyEntry {
  readonly policy: AuthorizationPolicy;
  readonly source: SourceLocation | null;
  readonly dryRun: boolean;
}

/** A problem the engine's validator found, without the file and line a policy with no file cannot have. */
export type PolicyProblem = Pick<PolicyIssue, 'severity' | 'path' | 'message' | 'code'>;
