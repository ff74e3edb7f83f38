import type { IdentityErrorCode } from '../identity/types.js';
import type { DecisionCode } from '../policy/types.js';

/**
 * One vocabulary for why a Check was answered as it was, in one case style (snake_case). The same code appears in
 * the decision log (`reason_code`), the span (`mesh_authz.reason_code`), the `reason` metric label and `check` /
 * `explain` output; docs/reason-codes.md is its table. What reaches the caller is only the reason class
 * (`denied`, `unauthenticated`, `unavailable`) unless `response.detail` says more.
 */

/** The Check path itself answered, before or instead of a policy decision. */
export type CheckReasonCode =
  /** The request was malformed, over a limit, or ambiguous (headers and header_map both sent). 403. */
  | 'invalid_request'
  /** No policy set has loaded yet. UNAVAILABLE (403). */
  | 'not_ready'
  /** The destination workload's labels (or namespace) are unknown while a policy could select by them. 403. */
  | 'workload_unresolved'
  /** The check did not finish before its deadline. UNAVAILABLE (403). */
  | 'deadline'
  /** An internal error; never an allow. UNAVAILABLE (403). */
  | 'internal';

/** Every reason code a Check can carry: the policy engine's, the identity phase's and the pipeline's own. */
export type ReasonCode = DecisionCode | IdentityErrorCode | CheckReasonCode;
