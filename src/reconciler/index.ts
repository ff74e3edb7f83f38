/**
 * The reconciler: Kubernetes Services annotated with `authz.mesh-authz.io/*` → Istio AuthorizationPolicies, as
 * GitOps files (`reconcile --from --out`) or live against the API server (`reconcile --kube`).
 *
 * - {@link parseAnnotations}: the annotation grammar (see docs/reconciler.md).
 * - {@link planPolicies}: cluster state → desired policies + per-Service errors (pure, deterministic).
 * - {@link diffOutput} / {@link applyChanges}: GitOps output folder, idempotent, prunes only owned files.
 * - {@link LiveReconciler}: list/watch + server-side apply + prune, with health and metrics.
 * - {@link validateAuthorizationPolicy}: the CRD schema plus istiod's rules; nothing failing it is ever emitted.
 */
export { type EnforceIn, isAnnotated, type Mode, parseAnnotations, type ServiceIntent } from './annotations.js';
export { unifiedDiff } from './diff.js';
export { formatServiceError, ReconcileError, type ServiceError, type ServiceErrorCode } from './errors.js';
export { type GenerateOptions, generateDefaultDeny, generateForService, policyNames } from './generate.js';
export { applyChanges, diffOutput, type FileChange, renderChanges } from './gitops.js';
export { clientNodeSupported, createKubeApi, type KubeApi, type KubeClientKind, Resources } from './kube.js';
export { type KubeConnection, loadKubeConnection } from './kube-connection.js';
export { Annotations, isOwned, Labels, MANAGER } from './labels.js';
export { defaultRetryMs, type LiveOptions, LiveReconciler } from './live.js';
export { startHealthServer } from './live-server.js';
export { parseManifests, policyFile, readClusterState, renderPolicy } from './manifests.js';
export type { AuthorizationPolicyObject, GeneratedPolicy, KubeObject, ServiceObject, Target } from './model.js';
export { type ClusterState, defaultOptions, type Plan, planPolicies, type ReconcileOptions } from './plan.js';
export {
  type ValidationIssue,
  validateAuthorizationPolicy,
  validateStructure,
} from './validate.js';
