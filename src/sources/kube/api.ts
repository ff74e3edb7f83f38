import type { KubeObject } from './object.js';
import type { ResourceType } from './resources.js';

/**
 * The handful of Kubernetes API calls mesh-authz makes (list, watch, server-side apply, delete, create), behind a
 * small interface so the reconciler, the workload registry and the policy source do not depend on a client
 * library's shapes.
 *
 * One implementation, {@link HttpKubeApi} on node:http/https. `@kubernetes/client-node` was the other: its only
 * maintained major (2.x) depends on undici 8, whose `engines` is `node >=22.19` and which throws at import time on
 * Node 20 (`createZstdDecompress` is undefined), while this project supports Node >= 20.19. Its 1.x line (node-fetch)
 * has had no release since 2025-10. The REST calls needed here are few and stable, so the built-in client is the
 * one that runs the same code on Node 20, 22 and 24.
 */

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ListResult {
  readonly items: KubeObject[];
  readonly resourceVersion: string;
}

export interface WatchHandle {
  abort(): void;
}

export interface ListOptions {
  readonly labelSelector?: string;
}

export interface KubeApi {
  list(type: ResourceType, namespace: string | null, options?: ListOptions): Promise<ListResult>;
  /** Starts a watch from `resourceVersion`; `done` is called exactly once when it ends (error or close). */
  watch(
    type: ResourceType,
    namespace: string | null,
    resourceVersion: string,
    onEvent: (type: WatchEventType, object: KubeObject) => void,
    done: (err: unknown) => void,
    options?: ListOptions,
  ): Promise<WatchHandle>;
  /** Server-side apply under `fieldManager`. */
  apply(obj: KubeObject, fieldManager: string, force: boolean): Promise<KubeObject>;
  delete(type: ResourceType, namespace: string, name: string): Promise<void>;
  create(obj: KubeObject, fieldManager: string): Promise<KubeObject>;
}
