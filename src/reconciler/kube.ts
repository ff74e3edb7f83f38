import type { KubeObject } from './model.js';

/**
 * The handful of Kubernetes API calls live mode makes, behind a small interface so the controller logic does not
 * depend on a client library's shapes. Two implementations speak the same wire protocol:
 * - `ClientNodeKubeApi` (`@kubernetes/client-node`: generic object API + `Watch`), the default;
 * - `HttpKubeApi` (node:http/https), used when client-node cannot load: client-node 2.x depends on undici 8, which
 *   needs Node ≥ 22.19, while this project supports Node ≥ 20.19.
 */

export interface ResourceType {
  readonly apiVersion: string;
  readonly kind: string;
  /** The plural resource name in URLs. */
  readonly plural: string;
}

export const Resources = {
  service: { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  namespace: { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces' },
  configMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  event: { apiVersion: 'v1', kind: 'Event', plural: 'events' },
  authorizationPolicy: {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    plural: 'authorizationpolicies',
  },
  requestAuthentication: {
    apiVersion: 'security.istio.io/v1',
    kind: 'RequestAuthentication',
    plural: 'requestauthentications',
  },
} as const satisfies Record<string, ResourceType>;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ListResult {
  readonly items: KubeObject[];
  readonly resourceVersion: string;
}

export interface WatchHandle {
  abort(): void;
}

export interface KubeApi {
  list(type: ResourceType, namespace: string | null, labelSelector?: string): Promise<ListResult>;
  /** Starts a watch from `resourceVersion`; `done` is called exactly once when it ends (error or close). */
  watch(
    type: ResourceType,
    namespace: string | null,
    resourceVersion: string,
    onEvent: (type: WatchEventType, object: KubeObject) => void,
    done: (err: unknown) => void,
  ): Promise<WatchHandle>;
  /** Server-side apply under `fieldManager`. */
  apply(obj: KubeObject, fieldManager: string, force: boolean): Promise<KubeObject>;
  delete(type: ResourceType, namespace: string, name: string): Promise<void>;
  create(obj: KubeObject, fieldManager: string): Promise<KubeObject>;
}

/** The HTTP status of a failed call (client-node errors, or a {@link KubeApiError}), when it has one. */
export function statusOf(err: unknown): number | null {
  const e = err as { code?: unknown; statusCode?: unknown; status?: unknown } | null;
  if (typeof e?.status === 'number') return e.status;
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return null;
}

export type KubeClientKind = 'client-node' | 'http';

/**
 * The API client for a connection: client-node when it loads on this Node version, else the built-in HTTP client.
 * `prefer` forces one (tests run the live suite against each available client).
 */
export async function createKubeApi(
  conn: import('./kube-connection.js').KubeConnection,
  prefer?: KubeClientKind,
): Promise<{ api: KubeApi; kind: KubeClientKind }> {
  if (prefer === 'client-node' || (prefer === undefined && clientNodeSupported())) {
    try {
      const { ClientNodeKubeApi } = await import('./kube-client-node.js');
      return { api: new ClientNodeKubeApi(conn), kind: 'client-node' };
    } catch (err) {
      if (prefer === 'client-node') throw err;
    }
  }
  const { HttpKubeApi } = await import('./kube-http.js');
  return { api: new HttpKubeApi(conn), kind: 'http' };
}

/**
 * Whether `@kubernetes/client-node` can load here. Its undici 8 dependency uses Node 22.19+ APIs (zstd, webidl
 * helpers) at import time, so on older Node even trying to import it fails loudly.
 */
export function clientNodeSupported(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 19);
}
