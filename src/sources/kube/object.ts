/**
 * The minimal shape of any Kubernetes object, as read from YAML or the API server. Consumers narrow it to the
 * fields they read (a Service's selector, a Pod's status) and never trust the rest.
 */
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
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** `namespace/name`: the identity of an object of one kind. */
export function objectKey(obj: { metadata?: { name?: string; namespace?: string } }): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}
