/**
 * The Kubernetes and Istio object shapes the reconciler reads and writes. Kept local and minimal: the reconciler
 * only needs metadata, a Service's selector and the AuthorizationPolicy fields it generates.
 */

/** Any Kubernetes object, as read from YAML or the API server. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: unknown;
  [key: string]: unknown;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** The parts of a Service the reconciler reads. */
export interface ServiceObject extends KubeObject {
  kind?: 'Service';
  spec?: { selector?: Record<string, string>; [key: string]: unknown };
}

export interface Source {
  principals?: string[];
  namespaces?: string[];
}

export interface Operation {
  methods?: string[];
  paths?: string[];
}

export interface Condition {
  key: string;
  values: string[];
}

export interface Rule {
  from?: { source: Source }[];
  to?: { operation: Operation }[];
  when?: Condition[];
}

export type GeneratedAction = 'ALLOW' | 'CUSTOM';

export interface AuthorizationPolicySpec {
  selector?: { matchLabels: Record<string, string> };
  action: GeneratedAction;
  provider?: { name: string };
  rules?: Rule[];
}

/** A generated AuthorizationPolicy, with its keys in the order they are written. */
export interface AuthorizationPolicyObject {
  apiVersion: 'security.istio.io/v1';
  kind: 'AuthorizationPolicy';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: AuthorizationPolicySpec;
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
export function objectKey(obj: { metadata?: { name?: string; namespace?: string } }): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}
