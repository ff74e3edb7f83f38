/**
 * The Kubernetes API, as every part of mesh-authz that reads or writes it sees it: one client
 * ({@link createKubeApi}), connection settings from a kubeconfig or the pod's service account
 * ({@link loadKubeConnection}), and list/watch caches ({@link ListWatch}) with 410 re-list, backoff and resync.
 */
export type { KubeApi, ListOptions, ListResult, WatchEventType, WatchHandle } from './api.js';
export { createKubeApi } from './client.js';
export { type KubeConnection, loadKubeConnection } from './connection.js';
export { KubeError, type KubeErrorCode, statusOf } from './errors.js';
export { HttpKubeApi } from './http-client.js';
export {
  defaultBackoff,
  ListWatch,
  type ListWatchHooks,
  type ListWatchOptions,
  type RestartReason,
} from './list-watch.js';
export { type KubeObject, type ObjectMeta, objectKey } from './object.js';
export { Resources, type ResourceType, resourceOf } from './resources.js';
