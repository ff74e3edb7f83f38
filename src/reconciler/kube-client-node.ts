import { KubeConfig, KubernetesObjectApi, PatchStrategy, Watch } from '@kubernetes/client-node';
import { ReconcileError } from './errors.js';
import type { KubeApi, ListResult, ResourceType, WatchEventType, WatchHandle } from './kube.js';
import { statusOf } from './kube.js';
import type { KubeConnection } from './kube-connection.js';
import type { KubeObject } from './model.js';

/**
 * {@link KubeApi} on `@kubernetes/client-node`: the generic object API (discovery, list, server-side apply, delete,
 * create) and its `Watch`. Imported dynamically: on Node < 22.19 its undici 8 dependency cannot load.
 */

/** A client-node KubeConfig for one connection. */
export function kubeConfigFor(conn: KubeConnection): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'target',
        server: conn.server,
        skipTLSVerify: conn.skipTLSVerify,
        ...(conn.ca ? { caData: Buffer.from(conn.ca).toString('base64') } : {}),
      },
    ],
    users: [
      {
        name: 'user',
        ...(conn.token ? { token: conn.token } : {}),
        ...(conn.cert ? { certData: Buffer.from(conn.cert).toString('base64') } : {}),
        ...(conn.key ? { keyData: Buffer.from(conn.key).toString('base64') } : {}),
      },
    ],
    contexts: [{ name: 'target', cluster: 'target', user: 'user' }],
    currentContext: 'target',
  });
  return kc;
}

export class ClientNodeKubeApi implements KubeApi {
  private readonly objects: KubernetesObjectApi;
  private readonly watcher: Watch;

  constructor(conn: KubeConnection) {
    const kc = kubeConfigFor(conn);
    this.objects = KubernetesObjectApi.makeApiClient(kc);
    this.watcher = new Watch(kc);
  }

  async list(type: ResourceType, namespace: string | null, labelSelector?: string): Promise<ListResult> {
    const res = await this.call(`list ${type.plural}`, () =>
      this.objects.list(
        type.apiVersion,
        type.kind,
        namespace ?? undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        labelSelector,
      ),
    );
    const items = (res.items as KubeObject[]).map((o) => ({ apiVersion: type.apiVersion, kind: type.kind, ...o }));
    return { items, resourceVersion: res.metadata?.resourceVersion ?? '' };
  }

  async watch(
    type: ResourceType,
    namespace: string | null,
    resourceVersion: string,
    onEvent: (type: WatchEventType, object: KubeObject) => void,
    done: (err: unknown) => void,
  ): Promise<WatchHandle> {
    const api = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
    const path = namespace ? `${api}/namespaces/${namespace}/${type.plural}` : `${api}/${type.plural}`;
    const controller = await this.watcher.watch(
      path,
      // client-node aborts a watch idle for 30 s; ask the server to end it first, cleanly (then we re-watch).
      { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 25 },
      (t: string, obj: KubeObject) => onEvent(t as WatchEventType, obj),
      done,
    );
    return { abort: () => controller.abort() };
  }

  async apply(obj: KubeObject, fieldManager: string, force: boolean): Promise<KubeObject> {
    return this.call(
      `apply ${obj.kind} ${obj.metadata?.namespace}/${obj.metadata?.name}`,
      () =>
        this.objects.patch(
          obj as never,
          undefined,
          undefined,
          fieldManager,
          force,
          PatchStrategy.ServerSideApply,
        ) as Promise<KubeObject>,
    );
  }

  async delete(type: ResourceType, namespace: string, name: string): Promise<void> {
    await this.call(`delete ${type.kind} ${namespace}/${name}`, () =>
      this.objects.delete({ apiVersion: type.apiVersion, kind: type.kind, metadata: { name, namespace } }),
    );
  }

  async create(obj: KubeObject, fieldManager: string): Promise<KubeObject> {
    return this.call(
      `create ${obj.kind}`,
      () => this.objects.create(obj as never, undefined, undefined, fieldManager) as Promise<KubeObject>,
    );
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const status = statusOf(err);
      throw new ReconcileError('KUBE_API', `${what}: ${status ?? ''} ${(err as Error).message}`.trim(), {
        cause: err,
        status,
      });
    }
  }
}
