import type { PolicySource } from '../../authz/seams.js';
import type { LoadedPolicy, PolicyIssue } from '../../policy/model.js';
import type { CompileOptions } from '../../policy/options.js';
import { duplicateIssues } from '../../policy/parse.js';
import { compilePolicySet, type PolicySet } from '../../policy/set.js';
import { validateDocument } from '../../policy/validate.js';
import { timeSlicer, warmInBackground } from '../time-slice.js';
import type { KubeApi } from './api.js';
import { coalesced } from './coalesce.js';
import { statusOf } from './errors.js';
import { ListWatch, type ListWatchOptions, type RestartReason } from './list-watch.js';
import { type KubeObject, objectKey } from './object.js';
import { Resources, type ResourceType } from './resources.js';

/**
 * AuthorizationPolicies straight from the API server (security.istio.io v1 and v1beta1), with the file store's
 * rules: the whole selected set is validated (the same validation as files: the CRD schema and istiod's checks)
 * and compiled before it is swapped in with one assignment; a set with any invalid policy is refused and the last
 * good set keeps serving. Each refused object gets a Warning Event, once per problem, as istiod's webhook would
 * have refused it at admission.
 *
 * v1 and v1beta1 are two served versions of one stored kind: the same objects come back under both. Both are
 * watched so a cluster serving only one (older Istio: v1beta1) works; objects are merged by namespace/name,
 * preferring the first version in `versions`.
 */

export type PolicyApiVersionName = 'v1' | 'v1beta1';

export interface KubernetesPolicyOptions {
  readonly namespaces: readonly string[];
  readonly versions: readonly PolicyApiVersionName[];
  /** Server-side label selector (`authz.mesh-authz.io/evaluate=true`). */
  readonly labelSelector?: string;
  /**
   * The CUSTOM provider name mesh-authz is deployed as: CUSTOM policies naming another provider are someone
   * else's and are left out; every other selected policy is kept.
   */
  readonly provider?: string;
  readonly compile: CompileOptions;
  /** Post a Warning Event on a refused object. */
  readonly events: boolean;
  readonly fieldManager?: string;
  readonly resyncMs?: number;
  readonly backoffMs?: (attempt: number) => number;
  /** Every accepted live set (the raw objects: snapshots are written from them). */
  readonly onAccepted?: (objects: readonly KubeObject[], set: PolicySet) => void;
  readonly onRefused?: (issues: readonly PolicyIssue[]) => void;
  readonly onRestart?: (resource: string, reason: RestartReason, err: unknown) => void;
  readonly log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

const TYPES: Record<PolicyApiVersionName, ResourceType> = {
  v1: Resources.authorizationPolicy,
  v1beta1: Resources.authorizationPolicyV1beta1,
};

export class KubernetesPolicySource implements PolicySource {
  private set: PolicySet | null = null;
  private gen = 0;
  private live = false;
  private closed = false;
  private fromSnapshot = false;
  private readonly watches: ListWatch[] = [];
  private readonly runs: Promise<void>[] = [];
  /** One rebuild for a burst of events. */
  private readonly schedule = coalesced(() => {
    void this.rebuild().catch((err: unknown) =>
      this.options.log?.('error', 'policy rebuild failed; the last good set keeps serving', {
        err: (err as Error).message,
      }),
    );
  });
  private readonly reported = new Set<string>();
  private readonly unserved = new Set<PolicyApiVersionName>();
  private waiters: (() => void)[] = [];
  /** The selected objects of the set in force (or last refused), as JSON: an unchanged list is not recompiled. */
  private lastInput = '';
  /** Refusals of live sets (the last good set kept serving). */
  refused = 0;

  constructor(
    private readonly api: KubeApi,
    private readonly options: KubernetesPolicyOptions,
  ) {}

  current(): PolicySet | null {
    return this.set;
  }

  /** Serving a snapshot because the live source has not answered yet. */
  get stale(): boolean {
    return !this.live && this.fromSnapshot;
  }

  get isLive(): boolean {
    return this.live;
  }

  /** Starts the informers. Resolves at once: the first set arrives with the first complete lists. */
  async start(): Promise<void> {
    if (this.watches.length > 0) return;
    const scopes: readonly (string | null)[] = this.options.namespaces.length > 0 ? this.options.namespaces : [null];
    const lw: ListWatchOptions = {
      ...(this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {}),
      ...(this.options.backoffMs ? { backoffMs: this.options.backoffMs } : {}),
      ...(this.options.resyncMs ? { resyncMs: this.options.resyncMs } : {}),
    };
    for (const version of this.options.versions) {
      const type = TYPES[version];
      for (const ns of scopes) {
        const w = new ListWatch(
          this.api,
          type,
          ns,
          {
            onChange: () => this.schedule(),
            onRestart: (reason, err) => {
              if (this.notServed(version, w, err)) return;
              this.options.onRestart?.(`authorizationpolicies.${version}`, reason, err);
            },
          },
          lw,
        );
        this.watches.push(w);
        this.runs.push(w.run());
      }
    }
  }

  /**
   * A version the cluster does not serve (404 on its first list: an older Istio without v1) is dropped while
   * another version remains, instead of being retried forever.
   */
  private notServed(version: PolicyApiVersionName, w: ListWatch, err: unknown): boolean {
    if (statusOf(err) !== 404 || w.synced) return false;
    const remaining = this.options.versions.filter((v) => v !== version && !this.unserved.has(v));
    if (remaining.length === 0) return false;
    this.unserved.add(version);
    for (const other of this.watches) if (other.type === TYPES[version]) other.stop();
    this.options.log?.('info', `security.istio.io/${version} is not served; reading ${remaining.join(', ')}`);
    this.schedule();
    return true;
  }

  /** Resolves once a live set was accepted. */
  whenLive(): Promise<void> {
    if (this.live) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Serves policies from a snapshot until the live source answers. Validated and compiled like a live set; a
   * snapshot that does not validate is refused (returns the issues) and nothing is loaded.
   */
  loadSnapshot(objects: readonly KubeObject[]): readonly PolicyIssue[] {
    if (this.live) return [];
    const { loaded, issues } = validateAll(objects);
    if (issues.some((i) => i.severity === 'error')) return issues;
    this.set = compilePolicySet(loaded, this.options.compile, ++this.gen);
    this.warm(this.set);
    this.fromSnapshot = true;
    return [];
  }

  /** Compiles the rest of a newly served set in the background, until it is replaced or the source closes. */
  private warm(set: PolicySet): void {
    void warmInBackground(set, timeSlicer(4), () => this.closed || this.set !== set);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watches) w.stop();
    await Promise.all(this.runs);
  }

  /** The selected objects, one per namespace/name, when at least one served version is fully listed. */
  private selected(): KubeObject[] | null {
    const byKey = new Map<string, KubeObject>();
    let any = false;
    for (const version of this.options.versions) {
      if (this.unserved.has(version)) continue;
      const watches = this.watches.filter((w) => w.type === TYPES[version]);
      if (!watches.every((w) => w.synced)) continue;
      any = true;
      for (const w of watches) {
        for (const obj of w.items.values()) {
          const key = objectKey(obj);
          if (!byKey.has(key) && this.wanted(obj)) byKey.set(key, obj);
        }
      }
    }
    return any ? [...byKey.values()].sort((a, b) => (objectKey(a) < objectKey(b) ? -1 : 1)) : null;
  }

  private wanted(obj: KubeObject): boolean {
    const spec = obj.spec as { action?: unknown; provider?: { name?: unknown } } | undefined;
    if (this.options.provider === undefined || spec?.action !== 'CUSTOM') return true;
    return spec.provider?.name === this.options.provider;
  }

  private async rebuild(): Promise<void> {
    const objects = this.selected();
    if (objects === null) return;
    const clean = objects.map(forPolicy);
    // Resyncs, bookmarks and the second served version deliver the same objects again: recompiling them would
    // bump the generation and retire every cached decision for nothing.
    const input = JSON.stringify(clean.map(withoutVersion));
    if (input === this.lastInput && (this.live || this.refused > 0)) return;
    this.lastInput = input;
    const { loaded, issues, invalid } = validateAll(clean);
    if (issues.some((i) => i.severity === 'error')) {
      this.refused++;
      this.options.log?.('error', 'policy change from the API server refused; the last good set keeps serving', {
        issues: issues.filter((i) => i.severity === 'error').map((i) => `${i.file}: ${i.path}: ${i.message}`),
      });
      this.options.onRefused?.(issues);
      if (this.options.events) await this.report(invalid, objects);
      return;
    }
    const set = compilePolicySet(loaded, this.options.compile, ++this.gen);
    this.set = set;
    this.warm(set);
    this.live = true;
    this.options.onAccepted?.(clean, set);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** A Warning Event on each refused object, once per object version and message. */
  private async report(invalid: ReadonlyMap<string, PolicyIssue[]>, objects: readonly KubeObject[]): Promise<void> {
    const index = new Map(objects.map((o) => [sourceName(o), o]));
    for (const [source, errs] of invalid) {
      const obj = index.get(source);
      if (!obj?.metadata?.name) continue;
      const message = errs.map((e) => `${e.path ? `${e.path}: ` : ''}${e.message}`).join('; ');
      const id = `${obj.metadata.uid ?? source}|${obj.metadata.resourceVersion ?? ''}|${message}`;
      if (this.reported.has(id)) continue;
      if (this.reported.size > 10_000) this.reported.clear();
      const ns = obj.metadata.namespace ?? 'default';
      const now = new Date().toISOString();
      try {
        await this.api.create(
          {
            apiVersion: 'v1',
            kind: 'Event',
            metadata: { generateName: `${obj.metadata.name}.`, namespace: ns },
            involvedObject: {
              apiVersion: obj.apiVersion,
              kind: 'AuthorizationPolicy',
              namespace: ns,
              name: obj.metadata.name,
              uid: obj.metadata.uid,
              resourceVersion: obj.metadata.resourceVersion,
            },
            type: 'Warning',
            reason: 'InvalidAuthorizationPolicy',
            message: `mesh-authz refused this policy (the last good policy set keeps serving): ${message}`.slice(
              0,
              1024,
            ),
            source: { component: 'mesh-authz' },
            reportingComponent: 'mesh-authz',
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
          this.options.fieldManager ?? 'mesh-authz',
        );
        this.reported.add(id);
      } catch (err) {
        this.options.log?.('warn', 'could not record Event', { policy: source, err: (err as Error).message });
      }
    }
  }
}

/** The object without server bookkeeping that policies never read (smaller snapshots, same validation). */
function forPolicy(obj: KubeObject): KubeObject {
  const { managedFields: _mf, ...metadata } = obj.metadata ?? {};
  const { status: _status, ...rest } = obj;
  return { ...rest, metadata };
}

/** What decides: the object without its resourceVersion (a no-op update bumps it). */
function withoutVersion(obj: KubeObject): KubeObject {
  const { resourceVersion: _rv, ...metadata } = obj.metadata ?? {};
  return { ...obj, metadata };
}

/** Where a policy came from, as issues and explanations name it. */
function sourceName(obj: KubeObject): string {
  return `kubernetes:${obj.apiVersion ?? ''}/namespaces/${obj.metadata?.namespace ?? ''}/authorizationpolicies/${obj.metadata?.name ?? ''}`;
}

function validateAll(objects: readonly KubeObject[]): {
  loaded: LoadedPolicy[];
  issues: PolicyIssue[];
  invalid: Map<string, PolicyIssue[]>;
} {
  const loaded: LoadedPolicy[] = [];
  const issues: PolicyIssue[] = [];
  const invalid = new Map<string, PolicyIssue[]>();
  for (const obj of objects) {
    const source = sourceName(obj);
    const result = validateDocument(obj, source, () => 0);
    issues.push(...result.issues);
    const errors = result.issues.filter((i) => i.severity === 'error');
    if (errors.length > 0) invalid.set(source, errors);
    if (result.loaded) loaded.push(result.loaded);
  }
  issues.push(...duplicateIssues(loaded));
  return { loaded, issues, invalid };
}
