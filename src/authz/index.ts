/**
 * The pure Check core: what Envoy asked, who is asking, what the policies say, what to answer. No transport here
 * (that is `server/`), no file or network I/O (that is `sources/`); it depends on `policy/` and `identity/` only.
 *
 * - `wire-types` / `input`: the decoded CheckRequest's shape and the one function ({@link toCheckInput}) that reads
 *   it into the plain {@link CheckInput} the core works on; `workloads`: the registry interface for resolving the
 *   destination workload.
 * - `pipeline` / `outcome` / `seams`: input → identity → decision, fail closed, with optional cache, tracer and
 *   observers; `cache` / `cache-key`: the decision cache.
 * - `response`: the outcome as a CheckResponse (and its remembered encodings).
 */
export { type CheckInput, DEFAULT_INPUT_LIMITS, type InputLimits, InvalidCheckRequest, toCheckInput } from './input.js';
export { type CheckOutcome, type CheckPhase, type CheckStatus, GRPC_CODE } from './outcome.js';
export { CheckPipeline, type CheckResult, type PipelineOptions } from './pipeline.js';
export type { CheckReasonCode, ReasonCode } from './reasons.js';
export { buildResponse, DECISION_ID_HEADER, REASON_HEADER } from './response.js';
export type { CheckSpan, CheckTracer, DecisionCache, DecisionObserver } from './seams.js';
export { ANONYMOUS_IDENTITY, type IdentitySource, type PolicySource, staticPolicySource } from './seams.js';
export type { MalformedRequest, WireCheckRequest, WireCheckResponse } from './wire-types.js';
export {
  EMPTY_REGISTRY,
  type RegisteredWorkload,
  type WorkloadRegistry,
  type WorkloadResolution,
} from './workloads.js';
