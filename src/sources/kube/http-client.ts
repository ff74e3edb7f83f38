import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeApi, ListOptions, ListResult, WatchEventType, WatchHandle } from './api.js';
import type { KubeConnection } from './connection.js';
import { KubeError } from './errors.js';
import type { KubeObject } from './object.js';
import { type ResourceType, resourceOf } from './resources.js';

/**
 * {@link KubeApi} on node:http/https, speaking the API server's REST wire format: JSON bodies, watches as a chunked
 * stream of JSON lines, server-side apply as `application/apply-patch+yaml`. Paths are built from the static resource
 * table, so no discovery round-trip. TLS is verified against the connection's CA unless the kubeconfig says
 * `insecure-skip-tls-verify`.
 */
/** A watch with no bytes for this long is dead (the server sends bookmarks and ends watches after 300 s). */
const WATCH_IDLE_MS = 330_000;
/** Any other call. */
const CALL_TIMEOUT_MS = 30_000;

export class HttpKubeApi implements KubeApi {
  private token: { value: string | undefined; stamp: string } | null = null;

  constructor(private readonly conn: KubeConnection) {}

  async list(type: ResourceType, namespace: string | null, options?: ListOptions): Promise<ListResult> {
    const query = options?.labelSelector ? `?labelSelector=${encodeURIComponent(options.labelSelector)}` : '';
    const body = (await this.json('GET', `${collection(type, namespace)}${query}`)) as {
      items?: KubeObject[];
      metadata?: { resourceVersion?: string };
    };
    const items = (body.items ?? []).map((o) => ({ apiVersion: type.apiVersion, kind: type.kind, ...o }));
    return { items, resourceVersion: body.metadata?.resourceVersion ?? '' };
  }

  async watch(
    type: ResourceType,
    namespace: string | null,
    resourceVersion: string,
    onEvent: (type: WatchEventType, object: KubeObject) => void,
    done: (err: unknown) => void,
    options?: ListOptions,
  ): Promise<WatchHandle> {
    const q = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: '300' });
    if (resourceVersion) q.set('resourceVersion', resourceVersion);
    if (options?.labelSelector) q.set('labelSelector', options.labelSelector);
    let finished = false;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      done(err);
    };
    const req = this.request('GET', `${collection(type, namespace)}?${q}`, undefined, undefined, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        finish(
          new KubeError('kube_api', `watch ${type.plural}: HTTP ${res.statusCode}`, {
            status: res.statusCode ?? null,
          }),
        );
        return;
      }
      const lines = createInterface({ input: res });
      // readline re-emits the stream's errors (e.g. 'aborted' when we cut the watch): handled by `finish`.
      lines.on('error', finish);
      lines.on('line', (line) => {
        if (line.trim() === '') return;
        try {
          const ev = JSON.parse(line) as { type: WatchEventType; object: KubeObject };
          onEvent(ev.type, ev.object);
        } catch {
          // A torn line can only come from a broken connection; the close below ends the watch.
        }
      });
      res.on('close', () => finish(res.complete ? null : new Error('watch connection closed mid-stream')));
      res.on('error', finish);
    });
    req.on('error', (err) => finish(err));
    // A connection that died without a reset (a node gone, a NAT timeout) would otherwise hang the watch forever.
    req.setTimeout(WATCH_IDLE_MS, () => req.destroy(new Error('watch idle: no data from the API server')));
    req.end();
    return {
      abort: () => {
        finish(null);
        req.destroy();
      },
    };
  }

  async apply(obj: KubeObject, fieldManager: string, force: boolean): Promise<KubeObject> {
    const type = typeOf(obj);
    const path = `${collection(type, obj.metadata?.namespace ?? null)}/${encodeURIComponent(obj.metadata?.name ?? '')}`;
    const q = new URLSearchParams({ fieldManager, force: String(force) });
    // JSON is valid YAML: the apply-patch+yaml content type is what makes this a server-side apply.
    return (await this.json(
      'PATCH',
      `${path}?${q}`,
      JSON.stringify(obj),
      'application/apply-patch+yaml',
    )) as KubeObject;
  }

  async delete(type: ResourceType, namespace: string, name: string): Promise<void> {
    await this.json('DELETE', `${collection(type, namespace)}/${encodeURIComponent(name)}`);
  }

  async create(obj: KubeObject, fieldManager: string): Promise<KubeObject> {
    const type = typeOf(obj);
    const path = `${collection(type, obj.metadata?.namespace ?? null)}?fieldManager=${encodeURIComponent(fieldManager)}`;
    return (await this.json('POST', path, JSON.stringify(obj), 'application/json')) as KubeObject;
  }

  private json(method: string, path: string, body?: string, contentType?: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = this.request(method, path, body, contentType, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            try {
              resolve(text ? JSON.parse(text) : {});
            } catch (err) {
              reject(new KubeError('kube_api', `${method} ${path}: invalid JSON`, { cause: err, status }));
            }
            return;
          }
          let message = text;
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? text;
          } catch {
            // Not a Status object: keep the raw text.
          }
          reject(new KubeError('kube_api', `${method} ${path}: ${status} ${message}`, { status }));
        });
      });
      req.on('error', (err) => reject(new KubeError('kube_api', `${method} ${path}: ${err.message}`, { cause: err })));
      req.setTimeout(CALL_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${CALL_TIMEOUT_MS} ms`)));
      req.end(body);
    });
  }

  /**
   * The bearer token: from the token file when there is one (re-read when it changes; API calls are few, so one
   * stat per call is cheap), else the fixed one. An unreadable file keeps the last token.
   */
  private bearer(): string | undefined {
    const file = this.conn.tokenFile;
    if (!file) return this.conn.token;
    let stamp: string;
    try {
      const info = statSync(file);
      stamp = `${info.mtimeMs}/${info.size}/${info.ino}`;
    } catch {
      return this.token?.value ?? this.conn.token;
    }
    if (this.token?.stamp !== stamp) {
      this.token = { value: readToken(file) ?? this.token?.value ?? this.conn.token, stamp };
    }
    return this.token.value;
  }

  private request(
    method: string,
    path: string,
    body: string | undefined,
    contentType: string | undefined,
    onResponse: (res: IncomingMessage) => void,
  ) {
    const url = new URL(path, this.conn.server);
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.bearer();
    if (token) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined) {
      headers['content-type'] = contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    if (url.protocol === 'http:') return httpRequest(url, { method, headers }, onResponse);
    return httpsRequest(
      url,
      {
        method,
        headers,
        ...(this.conn.ca ? { ca: this.conn.ca } : {}),
        ...(this.conn.cert ? { cert: this.conn.cert } : {}),
        ...(this.conn.key ? { key: this.conn.key } : {}),
        rejectUnauthorized: this.conn.skipTLSVerify !== true,
      },
      onResponse,
    );
  }
}

function readToken(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function typeOf(obj: KubeObject): ResourceType {
  const type = resourceOf(obj);
  if (!type) throw new KubeError('kube_api', `no resource mapping for ${obj.apiVersion}/${obj.kind}`);
  return type;
}

function collection(type: ResourceType, namespace: string | null): string {
  const api = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  return namespace && type.namespaced
    ? `${api}/namespaces/${encodeURIComponent(namespace)}/${type.plural}`
    : `${api}/${type.plural}`;
}
