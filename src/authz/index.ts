/**
 * The Check pipeline and the gRPC service: Envoy ext_authz v3 over grpc-js.
 *
 * - `wire` / `json` / `input`: the wire messages, proto3 JSON, and the one function that turns a CheckRequest into
 *   the plain {@link CheckInput} the core reads.
 * - `pipeline` / `response` / `outcome` / `seams`: input → identity → decision → response, fail closed, with
 *   optional cache, tracer and observers.
 * - `server` / `health` / `tls` / `admin` / `service` / `signals`: the gRPC server (Check + Health), reloading TLS
 *   credentials, the admin HTTP listener, and the lifecycle (start, readiness, graceful drain).
 * - `sources` / `assemble`: the small interfaces parts plug in through, and the one place they are built.
 */
export { type AdminHandler, type AdminOptions, AdminServer } from './admin.js';
export { type AssembledParts, assembleParts, type PartsOverrides } from './assemble.js';
export { ServiceError, type ServiceErrorCode } from './errors.js';
export { AUTHORIZATION_SERVICE, HealthState, ServingStatus, type ServingStatusName } from './health.js';
export { type CheckInput, DEFAULT_INPUT_LIMITS, type InputLimits, InvalidCheckRequest, toCheckInput } from './input.js';
export { checkRequestFromJson, RequestJsonError } from './json.js';
export { type CheckOutcome, type CheckPhase, type CheckStatus, GRPC_CODE } from './outcome.js';
export { CheckPipeline, type CheckResult, type PipelineOptions } from './pipeline.js';
export { buildResponse, DECISION_ID_HEADER, REASON_HEADER } from './response.js';
export type { CheckSpan, CheckTracer, DecisionCache, DecisionObserver } from './seams.js';
export { authorizationServiceDefinition, CHECK_METHOD_PATH, createAuthzServer } from './server.js';
export {
  AuthzService,
  type ListeningAddresses,
  type ServiceLogger,
  type ServiceParts,
  SILENT_LOGGER,
} from './service.js';
export { shutdownOnSignals } from './signals.js';
export { ANONYMOUS_IDENTITY, type IdentitySource, type PolicySource, staticPolicySource } from './sources.js';
export { ReloadingServerCredentials, readTlsMaterial, type TlsFiles } from './tls.js';
