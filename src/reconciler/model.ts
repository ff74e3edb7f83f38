import type { AuthorizationPolicy, AuthorizationPolicySpec } from '../policy/index.js';
import type { KubeObject } from '../sources/kube/index.js';

/**
 * The Kubernetes and Istio object shapes the reconciler reads and writes. Kept local and minimal: the reconciler
 * only needs metadata, a Service's selector and the AuthorizationPolicy fields it generates.
 */

export type { KubeObject, ObjectMeta } from '../sources/kube/index.js';

/** The parts of a Service the reconciler reads. */
export interface ServiceObject extends KubeObject {
  kind?: 'Service';
  spec?: { selector?: Record<string, string>; [key: string]: unknown };
}

export type { PolicyCondition as Condition, PolicyRule as Rule } from '../policy/index.js';

export type GeneratedAction = 'ALLOW' | 'CUSTOM';

/** The spec the reconciler writes: the policy engine's model, with the action always explicit. */
export interface GeneratedSpec extends AuthorizationPolicySpec {
  readonly action: GeneratedAction;
}

/**
 * A generated AuthorizationPolicy: the policy engine's {@link AuthorizationPolicy} model with ownership labels and
 * annotations always present. Keys are in the order they are written.
 */
export interface AuthorizationPolicyObject extends AuthorizationPolicy {
  readonly apiVersion: 'security.istio.io/v1';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations: Readonly<Record<string, string>>;
  };
  readonly spec: GeneratedSpec;
}

/**
 * Where a generated policy is enforced: `mesh` objects are applied to the cluster (Envoy enforces them);
 * `mesh-authz` objects are loaded by the mesh-authz server itself (verified end-user groups, dry-run with
 * explanations) and never applied to the cluster, where a claims rule without a RequestAuthentication would match
 * nothing.
 */
export type Target = 'mesh' | 'mesh-authz';

export interface GeneratedPolicy {
  readonly target: Target;
  /** `namespace/name` of the Service (or `namespace` for a namespace default-deny) it came from. */
  readonly origin: string;
  readonly object: AuthorizationPolicyObject;
}

/** `namespace/name`, the key objects are tracked by. */
