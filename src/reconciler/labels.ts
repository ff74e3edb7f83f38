/** Annotation and label names the reconciler reads and writes. */

/** The prefix of every annotation a developer writes on a Service. */
export const ANNOTATION_PREFIX = 'authz.mesh-authz.io/';

export const Annotations = {
  allowFrom: `${ANNOTATION_PREFIX}allow-from`,
  allowMethods: `${ANNOTATION_PREFIX}allow-methods`,
  allowPaths: `${ANNOTATION_PREFIX}allow-paths`,
  allowGroups: `${ANNOTATION_PREFIX}allow-groups`,
  mode: `${ANNOTATION_PREFIX}mode`,
  enforceIn: `${ANNOTATION_PREFIX}enforce-in`,
  /** On a Namespace: `"true"` adds an allow-nothing policy to it. */
  defaultDeny: `${ANNOTATION_PREFIX}default-deny`,
  /** Written on generated objects: the SHA-256 of the inputs they were generated from. */
  sourceHash: `${ANNOTATION_PREFIX}source-hash`,
  /** Written on generated objects: `Service/<ns>/<name>` or `Namespace/<ns>`. */
  source: `${ANNOTATION_PREFIX}source`,
  /** Istio's own dry-run switch (ALLOW/DENY only). */
  istioDryRun: 'istio.io/dry-run',
} as const;

/** The annotation keys allowed on a Service; any other key under the prefix is a typo and an error. */
export const SERVICE_ANNOTATIONS: readonly string[] = [
  Annotations.allowFrom,
  Annotations.allowMethods,
  Annotations.allowPaths,
  Annotations.allowGroups,
  Annotations.mode,
  Annotations.enforceIn,
];

export const Labels = {
  managedBy: 'app.kubernetes.io/managed-by',
  /** The Service a generated object belongs to (absent on namespace default-deny). */
  service: `${ANNOTATION_PREFIX}service`,
} as const;

export const MANAGER = 'mesh-authz';

/** True when the object carries the ownership label: the only objects the reconciler may change or delete. */
export function isOwned(obj: { metadata?: { labels?: Record<string, string> } }): boolean {
  return obj.metadata?.labels?.[Labels.managedBy] === MANAGER;
}
