import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { type Issued, issueLeaf, makeCa } from './tls-pki.js';

/**
 * A STAND-IN for the Kubernetes API server (none can run on these machines), speaking the real wire format for the
 * calls mesh-authz makes, over HTTPS with a certificate from a test CA made at first start (as a real API server
 * serves TLS; clients must verify it against {@link FakeKubeApi.ca}):
 * - discovery (`/api/v1`, `/apis/<group>/<version>` APIResourceLists);
 * - list (`<Kind>List` with `metadata.resourceVersion`, `labelSelector` with `=`, `!=` and existence);
 * - watch (`?watch=true`): a chunked stream of JSON lines `{"type","object"}` from a resourceVersion, replaying
 *   history newer than it; a resourceVersion older than the compaction point gets HTTP 200 and an ERROR event
 *   carrying a `Status` with code 410 (Expired), as the real server sends; `timeoutSeconds` ends the stream;
 * - server-side apply (`PATCH`, `application/apply-patch+yaml`, `fieldManager` required, `force`): per-manager field
 *   ownership at a coarse grain (`spec` whole; each `data` key; each label and annotation), 409 Conflict on fields
 *   another manager owns with a different value unless forced, removal of fields the manager stopped applying;
 * - `DELETE` (Status body, 404 when absent), `POST` create (with `generateName`), `GET` one object.
 * - several versions of one kind (security.istio.io v1 and v1beta1 AuthorizationPolicies) share one storage, and
 *   each request sees objects with the apiVersion it asked for, as with a CRD that serves two versions.
 * Not modelled: authentication, field selectors, pagination, finalizers, admission webhooks, strategic merge.
 * Test controls: `put`/`remove` (a `kubectl`-like writer), `expireWatches` (compaction + watches end),
 * `restart` (the process goes away and comes back on the same port, storage kept), and a request log.
 */

interface ResourceDef {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

const RESOURCES: readonly ResourceDef[] = [
  { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { group: '', version: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  {
    group: 'security.istio.io',
    version: 'v1',
    kind: 'AuthorizationPolicy',
    plural: 'authorizationpolicies',
    namespaced: true,
  },
  {
    group: 'security.istio.io',
    version: 'v1beta1',
    kind: 'AuthorizationPolicy',
    plural: 'authorizationpolicies',
    namespaced: true,
  },
  {
    group: 'security.istio.io',
    version: 'v1',
    kind: 'RequestAuthentication',
    plural: 'requestauthentications',
    namespaced: true,
  },
];

type Obj = Record<string, unknown> & { metadata: Record<string, unknown> & { name: string; namespace?: string } };

interface HistoryEvent {
  readonly rv: number;
  readonly plural: string;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Obj;
}

export interface LoggedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly contentType: string;
  readonly authorization: string;
}

interface Watcher {
  readonly def: ResourceDef;
  readonly plural: string;
  readonly namespace: string | null;
  readonly res: ServerResponse;
  readonly selected: (o: Obj) => boolean;
}

export class FakeKubeApi {
  private server: Server | null = null;
  private port = 0;
  private rv = 1;
  /** Events at or below this resourceVersion are compacted away: watching from them is 410 Gone. */
  private compactedAt = 0;
  private readonly store = new Map<string, Map<string, Obj>>();
  /** plural/ns/name → manager → owned field paths. */
  private readonly owners = new Map<string, Map<string, Set<string>>>();
  private readonly history: HistoryEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  readonly requests: LoggedRequest[] = [];
  private pki: { ca: Issued; leaf: Issued } | null = null;
  private readonly unserved = new Set<string>();

  /** Stops serving one group/version (`security.istio.io/v1`), as a cluster with an older CRD would: 404. */
  unserve(groupVersion: string): void {
    this.unserved.add(groupVersion);
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** The PEM of the test CA that signed the server certificate (available after the first {@link start}). */
  get ca(): string {
    if (!this.pki) throw new Error('stand-in API server: start it first');
    return this.pki.ca.certPem;
  }

  /** Connection settings for mesh-authz's client: this server, its CA, a bearer token. */
  connection(token = 'fake-token'): { server: string; token: string; ca: string } {
    return { server: this.url, token, ca: this.ca };
  }

  /** A kubeconfig document (to write as YAML) for this server, with the CA inline and token auth. */
  kubeconfig(token = 'fake-token'): Record<string, unknown> {
    return {
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'fake',
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      clusters: [
        {
          name: 'fake',
          cluster: { server: this.url, 'certificate-authority-data': Buffer.from(this.ca).toString('base64') },
        },
      ],
      users: [{ name: 'fake', user: { token } }],
    };
  }

  async start(port = 0): Promise<void> {
    if (!this.pki) {
      const ca = await makeCa('stand-in kube-apiserver CA');
      this.pki = { ca, leaf: await issueLeaf(ca, { cn: 'kube-apiserver', dns: ['localhost'], ips: ['127.0.0.1'] }) };
    }
    const server = createServer({ cert: this.pki.leaf.certPem, key: this.pki.leaf.keyPem }, (req, res) =>
      this.handle(req, res),
    ) as unknown as Server;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts every connection (open watches break mid-stream, like a crashed API server). */
  async stop(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** An API server restart: connections drop, storage survives, history before now is compacted. */
  async restart(downMs = 0): Promise<void> {
    const port = this.port;
    await this.stop();
    this.compactedAt = this.rv;
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.start(port);
  }

  /** Compacts history and ends every open watch: clients resuming from their last resourceVersion get 410. */
  expireWatches(): void {
    this.compactedAt = this.rv;
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Creates or replaces an object as a non-SSA writer (`kubectl` by default) that then owns all its fields. */
  put(object: Record<string, unknown>, manager = 'kubectl'): Obj {
    const def = this.defOf(object);
    const obj = structuredClone(object) as Obj;
    const ns = def.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
    if (ns) obj.metadata.namespace = ns;
    const key = this.key(def.plural, ns ?? null, obj.metadata.name);
    const existing = this.table(def.plural).get(key);
    this.owners.set(key, new Map([[manager, fieldsOf(obj)]]));
    return this.write(def, key, obj, existing, manager, 'Update');
  }

  remove(kind: string, namespace: string | null, name: string): boolean {
    const def = this.defByKind(kind);
    const key = this.key(def.plural, def.namespaced ? namespace : null, name);
    const existing = this.table(def.plural).get(key);
    if (!existing) return false;
    this.table(def.plural).delete(key);
    this.owners.delete(key);
    this.emit(def.plural, 'DELETED', {
      ...existing,
      metadata: { ...existing.metadata, resourceVersion: String(++this.rv) },
    });
    return true;
  }

  get(kind: string, namespace: string | null, name: string): Obj | undefined {
    const def = this.defByKind(kind);
    return this.table(def.plural).get(this.key(def.plural, def.namespaced ? namespace : null, name));
  }

  list(kind: string): Obj[] {
    return [...this.table(this.defByKind(kind).plural).values()];
  }

  /** The managers owning fields of an object (`managedFields[].manager`). */
  managersOf(kind: string, namespace: string | null, name: string): string[] {
    const def = this.defByKind(kind);
    return [...(this.owners.get(this.key(def.plural, def.namespaced ? namespace : null, name))?.keys() ?? [])];
  }

  // ---- HTTP ----

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query,
      contentType: req.headers['content-type'] ?? '',
      authorization: req.headers.authorization ?? '',
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        this.route(
          req.method ?? 'GET',
          url.pathname,
          query,
          req.headers['content-type'] ?? '',
          Buffer.concat(chunks),
          res,
        );
      } catch (err) {
        status(res, 500, 'InternalError', (err as Error).message);
      }
    });
  }

  private route(
    method: string,
    path: string,
    query: Record<string, string>,
    ct: string,
    body: Buffer,
    res: ServerResponse,
  ) {
    const discovery = /^\/(api\/v1|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (discovery && method === 'GET') {
      const group = discovery[2] ?? '';
      const version = discovery[3] ?? 'v1';
      const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
      if (resources.length === 0)
        return status(res, 404, 'NotFound', 'the server could not find the requested resource');
      return json(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: group ? `${group}/${version}` : version,
        resources: resources.map((r) => ({
          name: r.plural,
          singularName: r.kind.toLowerCase(),
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
        })),
      });
    }
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/([^/]+))\/(.+)$/.exec(path);
    if (!m) return status(res, 404, 'NotFound', `no route for ${path}`);
    const group = m[1] ?? '';
    const seg = m[3]!.split('/').map(decodeURIComponent);
    let namespace: string | null = null;
    let plural: string;
    let name: string | undefined;
    if (seg[0] === 'namespaces' && seg.length >= 3) {
      namespace = seg[1]!;
      plural = seg[2]!;
      name = seg[3];
    } else {
      plural = seg[0]!;
      name = seg[1];
    }
    const def = RESOURCES.find(
      (r) =>
        r.group === group &&
        r.version === (m[2] ?? 'v1') &&
        r.plural === plural &&
        !this.unserved.has(r.group ? `${r.group}/${r.version}` : r.version),
    );
    if (!def) return status(res, 404, 'NotFound', `the server could not find the requested resource (${plural})`);
    if (!def.namespaced) namespace = null;

    if (method === 'GET' && name === undefined) {
      if (query['watch'] === 'true' || query['watch'] === '1') return this.watch(def, namespace, query, res);
      const items = this.select(def, namespace, query['labelSelector']).map((o) => served(def, o));
      return json(res, 200, {
        kind: `${def.kind}List`,
        apiVersion: def.group ? `${def.group}/${def.version}` : def.version,
        metadata: { resourceVersion: String(this.rv) },
        items,
      });
    }
    if (method === 'GET' && name !== undefined) {
      const obj = this.table(def.plural).get(this.key(def.plural, namespace, name));
      return obj ? json(res, 200, served(def, obj)) : status(res, 404, 'NotFound', `${def.plural} "${name}" not found`);
    }
    if (method === 'DELETE' && name !== undefined) {
      const obj = this.table(def.plural).get(this.key(def.plural, namespace, name));
      if (!obj) return status(res, 404, 'NotFound', `${def.plural} "${name}" not found`);
      this.remove(def.kind, namespace, name);
      return json(res, 200, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Success',
        details: { name, kind: def.plural },
      });
    }
    if (method === 'POST' && name === undefined) return this.create(def, namespace, query, body, res);
    if (method === 'PATCH' && name !== undefined) return this.apply(def, namespace, name, query, ct, body, res);
    return status(res, 405, 'MethodNotAllowed', `${method} not supported on ${path}`);
  }

  private watch(def: ResourceDef, namespace: string | null, query: Record<string, string>, res: ServerResponse) {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const send = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
    const from = query['resourceVersion'] ?? '';
    const match = selectorMatcher(query['labelSelector']);
    const selected = (o: Obj) => match((o.metadata['labels'] ?? {}) as Record<string, string>);
    if (from === '' || from === '0') {
      for (const obj of this.select(def, namespace, query['labelSelector'])) send('ADDED', served(def, obj));
    } else if (Number(from) < this.compactedAt) {
      send('ERROR', {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${from} (${this.compactedAt})`,
        reason: 'Expired',
        code: 410,
      });
      res.end();
      return;
    } else {
      for (const e of this.history) {
        if (e.rv > Number(from) && e.plural === def.plural && inNamespace(e.object, namespace) && selected(e.object)) {
          send(e.type, served(def, e.object));
        }
      }
    }
    const watcher: Watcher = { def, plural: def.plural, namespace, res, selected };
    this.watchers.add(watcher);
    const timeout = Number(query['timeoutSeconds'] ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : null;
    res.on('close', () => {
      if (timer) clearTimeout(timer);
      this.watchers.delete(watcher);
    });
  }

  private create(
    def: ResourceDef,
    namespace: string | null,
    query: Record<string, string>,
    body: Buffer,
    res: ServerResponse,
  ) {
    const obj = JSON.parse(body.toString('utf8')) as Obj;
    obj.metadata ??= { name: '' };
    if (!obj.metadata.name && typeof obj.metadata['generateName'] === 'string') {
      obj.metadata.name = `${obj.metadata['generateName']}${randomUUID().slice(0, 8)}`;
    }
    if (!obj.metadata.name) return status(res, 422, 'Invalid', 'metadata.name: Required value');
    if (namespace) obj.metadata.namespace = namespace;
    const key = this.key(def.plural, namespace, obj.metadata.name);
    if (this.table(def.plural).has(key))
      return status(res, 409, 'AlreadyExists', `${def.plural} "${obj.metadata.name}" already exists`);
    const manager = query['fieldManager'] ?? 'unknown';
    this.owners.set(key, new Map([[manager, fieldsOf(obj)]]));
    return json(res, 201, this.write(def, key, obj, undefined, manager, 'Update'));
  }

  private apply(
    def: ResourceDef,
    namespace: string | null,
    name: string,
    query: Record<string, string>,
    ct: string,
    body: Buffer,
    res: ServerResponse,
  ) {
    if (!ct.startsWith('application/apply-patch+yaml')) {
      return status(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format: ${ct}`);
    }
    const manager = query['fieldManager'];
    if (!manager)
      return status(
        res,
        400,
        'BadRequest',
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    const applied = parseYaml(body.toString('utf8')) as Obj;
    const apiVersion = def.group ? `${def.group}/${def.version}` : def.version;
    if (applied?.apiVersion !== apiVersion || applied.kind !== def.kind) {
      return status(res, 400, 'BadRequest', `apply: apiVersion/kind must be ${apiVersion}/${def.kind}`);
    }
    if (applied.metadata?.name !== name)
      return status(res, 400, 'BadRequest', 'the name of the object does not match the name on the URL');
    if (namespace) applied.metadata.namespace = namespace;
    const key = this.key(def.plural, namespace, name);
    const existing = this.table(def.plural).get(key);
    const owners = this.owners.get(key) ?? new Map<string, Set<string>>();
    const fields = fieldsOf(applied);
    const force = query['force'] === 'true';
    const conflicts: string[] = [];
    for (const f of fields) {
      for (const [other, owned] of owners) {
        if (
          other !== manager &&
          owned.has(f) &&
          existing &&
          !sameValue(readField(existing, f), readField(applied, f))
        ) {
          conflicts.push(`conflict with "${other}": ${f}`);
        }
      }
    }
    if (conflicts.length > 0 && !force) {
      return status(res, 409, 'Conflict', `Apply failed with ${conflicts.length} conflict(s): ${conflicts.join('; ')}`);
    }
    const next = structuredClone(existing ?? { apiVersion, kind: def.kind, metadata: { name } }) as Obj;
    if (namespace) next.metadata.namespace = namespace;
    const before = owners.get(manager) ?? new Set<string>();
    for (const f of before) {
      const ownedElsewhere = [...owners].some(([o, s]) => o !== manager && s.has(f));
      if (!fields.has(f) && !ownedElsewhere) deleteField(next, f);
    }
    for (const f of fields) writeField(next, f, readField(applied, f));
    for (const [other, owned] of owners) if (other !== manager && force) for (const f of fields) owned.delete(f);
    owners.set(manager, fields);
    this.owners.set(key, owners);
    if (existing && sameValue(strip(existing), strip(next))) return json(res, 200, existing);
    return json(res, existing ? 200 : 201, this.write(def, key, next, existing, manager, 'Apply'));
  }

  // ---- storage ----

  private write(def: ResourceDef, key: string, obj: Obj, existing: Obj | undefined, _m: string, _op: string): Obj {
    obj['apiVersion'] = def.group ? `${def.group}/${def.version}` : def.version;
    obj['kind'] = def.kind;
    obj.metadata.uid = existing?.metadata['uid'] ?? randomUUID();
    obj.metadata['creationTimestamp'] = existing?.metadata['creationTimestamp'] ?? new Date(0).toISOString();
    obj.metadata['resourceVersion'] = String(++this.rv);
    obj.metadata['managedFields'] = [...(this.owners.get(key) ?? new Map()).entries()].map(([manager, fields]) => ({
      manager,
      operation: manager === _m ? _op : 'Update',
      apiVersion: obj['apiVersion'],
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1(fields as Set<string>),
    }));
    this.table(def.plural).set(key, obj);
    this.emit(def.plural, existing ? 'MODIFIED' : 'ADDED', obj);
    return obj;
  }

  private emit(plural: string, type: HistoryEvent['type'], object: Obj): void {
    this.history.push({ rv: this.rv, plural, type, object: structuredClone(object) });
    for (const w of this.watchers) {
      if (w.plural === plural && inNamespace(object, w.namespace) && w.selected(object)) {
        w.res.write(`${JSON.stringify({ type, object: served(w.def, object) })}\n`);
      }
    }
  }

  private select(def: ResourceDef, namespace: string | null, labelSelector: string | undefined): Obj[] {
    const match = selectorMatcher(labelSelector);
    return [...this.table(def.plural).values()]
      .filter((o) => inNamespace(o, namespace) && match((o.metadata['labels'] ?? {}) as Record<string, string>))
      .sort((a, b) =>
        this.key(def.plural, a.metadata.namespace ?? null, a.metadata.name) <
        this.key(def.plural, b.metadata.namespace ?? null, b.metadata.name)
          ? -1
          : 1,
      );
  }

  private table(plural: string): Map<string, Obj> {
    let t = this.store.get(plural);
    if (!t) {
      t = new Map();
      this.store.set(plural, t);
    }
    return t;
  }

  private key(plural: string, namespace: string | null, name: string): string {
    return `${plural}/${namespace ?? ''}/${name}`;
  }

  private defOf(obj: Record<string, unknown>): ResourceDef {
    const def = RESOURCES.find(
      (r) => r.kind === obj['kind'] && (r.group ? `${r.group}/${r.version}` : r.version) === obj['apiVersion'],
    );
    if (!def) throw new Error(`fake API: unsupported ${String(obj['apiVersion'])}/${String(obj['kind'])}`);
    return def;
  }

  private defByKind(kind: string): ResourceDef {
    const def = RESOURCES.find((r) => r.kind === kind);
    if (!def) throw new Error(`fake API: unsupported kind ${kind}`);
    return def;
  }
}

// ---- field ownership (coarse-grained SSA) ----

const FIELD_SKIP = new Set(['apiVersion', 'kind', 'metadata', 'status']);

function fieldsOf(obj: Obj): Set<string> {
  const out = new Set<string>();
  for (const k of ['labels', 'annotations']) {
    for (const l of Object.keys((obj.metadata?.[k] ?? {}) as object)) out.add(`metadata.${k}.${l}`);
  }
  for (const [k, v] of Object.entries(obj)) {
    if (FIELD_SKIP.has(k)) continue;
    if (k === 'data' && v && typeof v === 'object') for (const d of Object.keys(v)) out.add(`data.${d}`);
    else out.add(k);
  }
  return out;
}

function splitField(f: string): string[] {
  if (f.startsWith('metadata.labels.') || f.startsWith('metadata.annotations.')) {
    const [a, b] = f.split('.', 2) as [string, string];
    return [a, b, f.slice(a.length + b.length + 2)];
  }
  if (f.startsWith('data.')) return ['data', f.slice(5)];
  return [f];
}

function readField(obj: Obj, f: string): unknown {
  let cur: unknown = obj;
  for (const p of splitField(f)) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

function writeField(obj: Obj, f: string, value: unknown): void {
  const parts = splitField(f);
  let cur = obj as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) {
    cur[p] ??= {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts.at(-1)!] = structuredClone(value);
}

function deleteField(obj: Obj, f: string): void {
  const parts = splitField(f);
  let cur = obj as Record<string, unknown> | undefined;
  for (const p of parts.slice(0, -1)) cur = cur?.[p] as Record<string, unknown> | undefined;
  if (cur) delete cur[parts.at(-1)!];
}

function fieldsV1(fields: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    let cur = out;
    for (const p of splitField(f)) {
      cur[`f:${p}`] ??= {};
      cur = cur[`f:${p}`] as Record<string, unknown>;
    }
  }
  return out;
}

function strip(o: Obj): unknown {
  const { resourceVersion: _rv, managedFields: _mf, ...meta } = o.metadata;
  return { ...o, metadata: meta };
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortDeep(a)) === JSON.stringify(sortDeep(b));
}

function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortDeep((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** The object as a client of `def`'s version sees it (one storage, several served versions). */
function served(def: ResourceDef, obj: Obj): Obj {
  const apiVersion = def.group ? `${def.group}/${def.version}` : def.version;
  return obj['apiVersion'] === apiVersion ? obj : { ...obj, apiVersion };
}

function inNamespace(obj: Obj, namespace: string | null): boolean {
  return namespace === null || obj.metadata.namespace === namespace;
}

function selectorMatcher(selector: string | undefined): (labels: Record<string, string>) => boolean {
  if (!selector) return () => true;
  const terms = selector
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  return (labels) =>
    terms.every((t) => {
      const ne = /^([^!=]+)!=(.*)$/.exec(t);
      if (ne) return labels[ne[1]!] !== ne[2];
      const eq = /^([^!=]+)==?(.*)$/.exec(t);
      if (eq) return labels[eq[1]!] === eq[2];
      return t.startsWith('!') ? !(t.slice(1) in labels) : t in labels;
    });
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}
