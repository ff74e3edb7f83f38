/**
 * The Check span's name and attribute names.
 *
 * The span follows the OpenTelemetry RPC semantic conventions for a gRPC server span: it is named
 * `{rpc.service}/{rpc.method}` and carries `rpc.system`, `rpc.service`, `rpc.method` and `rpc.grpc.status_code`.
 * That gRPC call succeeds whatever the decision (the verdict travels inside the CheckResponse), so a deny is an
 * outcome, not a span error: find denies with `mesh_authz.decision = "deny"`.
 *
 * The request being authorised is not this span's own HTTP call, so its facts live under `mesh_authz.request.*`
 * instead of `http.*`/`url.*` (which would claim them for the gRPC call). Standard names are used where the
 * conventions have one that fits: `user.id` (the verified end user's subject) and
 * `http.request.header.x-request-id` (Envoy's request id, as the convention's string array).
 */
export const RPC_SERVICE = 'envoy.service.auth.v3.Authorization';
export const RPC_METHOD = 'Check';
export const CHECK_SPAN_NAME = `${RPC_SERVICE}/${RPC_METHOD}`;

export const ATTR = {
  rpcSystem: 'rpc.system',
  rpcService: 'rpc.service',
  rpcMethod: 'rpc.method',
  rpcGrpcStatus: 'rpc.grpc.status_code',
  /** `allow` or `deny`: what Envoy was told. */
  decision: 'mesh_authz.decision',
  decisionId: 'mesh_authz.decision_id',
  status: 'mesh_authz.status',
  httpStatus: 'mesh_authz.response.http_status',
  phase: 'mesh_authz.phase',
  reasonCode: 'mesh_authz.reason_code',
  reason: 'mesh_authz.reason',
  policy: 'mesh_authz.policy',
  policyAction: 'mesh_authz.policy.action',
  rule: 'mesh_authz.rule',
  dryRun: 'mesh_authz.dry_run',
  shadow: 'mesh_authz.shadow',
  audit: 'mesh_authz.audit',
  cacheHit: 'mesh_authz.cache_hit',
  generation: 'mesh_authz.policy_generation',
  principal: 'mesh_authz.source.principal',
  userId: 'user.id',
  userIssuer: 'mesh_authz.user.issuer',
  userGroups: 'mesh_authz.user.groups',
  workloadNamespace: 'mesh_authz.workload.namespace',
  workload: 'mesh_authz.workload.labels',
  /** How the destination workload was found: context_extensions, destination_labels, registry_address… */
  workloadResolution: 'mesh_authz.workload.resolution',
  workloadName: 'mesh_authz.workload.name',
  method: 'mesh_authz.request.method',
  path: 'mesh_authz.request.path',
  host: 'mesh_authz.request.host',
  requestId: 'http.request.header.x-request-id',
  suppressedCount: 'mesh_authz.suppressed.count',
  suppressedFirst: 'mesh_authz.suppressed.first_decision_id',
  suppressedLast: 'mesh_authz.suppressed.last_decision_id',
} as const;

/** Every attribute name the Check span may carry. */
export type AttributeName = (typeof ATTR)[keyof typeof ATTR];
