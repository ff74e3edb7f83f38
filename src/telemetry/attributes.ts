/**
 * Span attribute names. Decision facts live under `mesh_authz.*`; the request's method and path use the
 * OpenTelemetry HTTP semantic-convention names so generic trace UIs show them.
 */
export const CHECK_SPAN_NAME = 'mesh-authz Check';

export const ATTR = {
  decisionId: 'mesh_authz.decision_id',
  /** true on every deny: filter `mesh_authz.denied = true` to see only denials. */
  denied: 'mesh_authz.denied',
  allowed: 'mesh_authz.allowed',
  status: 'mesh_authz.status',
  httpStatus: 'http.response.status_code',
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
  userSubject: 'mesh_authz.user.subject',
  userIssuer: 'mesh_authz.user.issuer',
  userGroups: 'mesh_authz.user.groups',
  workloadNamespace: 'mesh_authz.workload.namespace',
  workload: 'mesh_authz.workload.labels',
  /** How the destination workload was found: context_extensions, destination_labels, registry_address… */
  workloadResolution: 'mesh_authz.workload.resolution',
  workloadName: 'mesh_authz.workload.name',
  method: 'http.request.method',
  path: 'url.path',
  requestId: 'mesh_authz.request_id',
} as const;
