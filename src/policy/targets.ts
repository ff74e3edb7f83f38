import type { AuthorizationPolicySpec } from './model.js';
import type { PolicyTargetRef, WorkloadRef } from './types.js';

/**
 * `targetRef` / `targetRefs` attachment. istiod never applies a targetRef policy to a workload it does not target,
 * and never by namespace: a policy aimed at a Gateway or a Service is not a namespace-wide policy. mesh-authz
 * learns what a request is addressed to from workload resolution (`WorkloadRef.targets`: the Services that select
 * the workload, the Gateway it is); when that is unknown, no targetRef policy applies.
 * Sources: istio/istio 1.30.3 `pilot/pkg/model/policyattachment.go` (ShouldAttachPolicy, GetTargetRefs,
 * matchesGroupKind) and `pkg/config/validation/validation.go` (allowedTargetRefs, validatePolicyTargetReference).
 */

/** The group/kind pairs istiod accepts in a targetRef (group '' is the core group). */
export const ALLOWED_TARGET_KINDS: readonly { readonly group: string; readonly kind: string }[] = [
  { group: 'core', kind: 'Service' },
  { group: 'networking.istio.io', kind: 'ServiceEntry' },
  { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
  { group: 'gateway.networking.k8s.io', kind: 'GatewayClass' },
];

/** The GatewayClass a root-namespace policy may target to reach every waypoint. */
export const WAYPOINT_GATEWAY_CLASS = 'istio-waypoint';

/** Kubernetes' canonical group name: the empty (core) group is `core`. */
export function canonicalGroup(group: string | undefined): string {
  return group === undefined || group === '' ? 'core' : group;
}

export function isAllowedTargetKind(group: string | undefined, kind: string): boolean {
  const g = canonicalGroup(group);
  return ALLOWED_TARGET_KINDS.some((a) => a.group === g && a.kind === kind);
}

/** A targetRef reduced to what matching reads. */
export interface TargetKey {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
}

/** The policy's targets (`targetRefs`, else the legacy `targetRef`), or null for a selector policy. */
export function policyTargets(spec: AuthorizationPolicySpec): readonly TargetKey[] | null {
  const refs = spec.targetRefs && spec.targetRefs.length > 0 ? spec.targetRefs : spec.targetRef ? [spec.targetRef] : [];
  if (refs.length === 0) return null;
  return refs.map((r) => ({ group: canonicalGroup(r.group), kind: r.kind, name: r.name }));
}

/**
 * Does a targetRef policy in `policyNs` attach to this workload? One of its targets must be one of the workload's
 * targets (same group, kind and name) in the policy's own namespace (istiod refuses cross-namespace targetRefs); a
 * GatewayClass target is cluster-wide, so only `istio-waypoint` from the root namespace attaches.
 */
export function targetsWorkload(
  targets: readonly TargetKey[],
  policyNs: string,
  rootNamespace: string,
  workload: WorkloadRef,
): boolean {
  const known = workload.targets;
  if (known === undefined || known.length === 0) return false;
  for (const want of targets) {
    for (const t of known) {
      if (!sameTarget(want, t)) continue;
      if (want.kind === 'GatewayClass') {
        if (policyNs === rootNamespace && want.name === WAYPOINT_GATEWAY_CLASS) return true;
        continue;
      }
      if ((t.namespace ?? workload.namespace) === policyNs) return true;
    }
  }
  return false;
}

function sameTarget(want: TargetKey, t: PolicyTargetRef): boolean {
  return want.kind === t.kind && want.name === t.name && want.group === canonicalGroup(t.group);
}

/** `Kind/name` (with the group when not core), for explanations. */
export function describeTarget(t: { readonly group?: string; readonly kind: string; readonly name: string }): string {
  const g = canonicalGroup(t.group);
  return `${t.kind}${g === 'core' ? '' : `.${g}`}/${t.name}`;
}
