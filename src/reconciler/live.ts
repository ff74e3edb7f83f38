import { type KubeApi, type KubeObject, ListWatch, objectKey, Resources } from '../sources/kube/index.js';
import { isAnnotated } from './annotations.js';
import { formatServiceError, type ServiceError } from './errors.js';
import { canonicalJson, sourceHash } from './hash.js';
import { Annotations, isOwned, Labels, MANAGER } from './labels.js';
import { ReconcilerMetrics } from './live-metrics.js';
import { policyFile, renderPolicy } from './manifests.js';
import type { ServiceObject } from './model.js';
import { planPolicies, type ReconcileOptions } from './plan.js';

/**
 * Live mode: watch Services (and RequestAuthentications) and keep the cluster's owned AuthorizationPolicies equal
 * to the plan. Writes use server-side apply under one field manager; deletes touch only objects that carry the
 * ownership label. Policies mesh-authz evaluates itself go into one ConfigMap the server mounts.
 */

export interface LiveOptions extends ReconcileOptions {
  /** Namespaces to watch; empty = all. */
  readonly namespaces: readonly string[];
  readonly fieldManager: string;
  /** Where the ConfigMap of server-evaluated policies lives. */
  readonly authzNamespace: string;
  readonly configMapName: string;
  /** Coalesce bursts of watch events into one pass. */
  readonly debounceMs: number;
  /** A full pass at least this often, even without events (repairs drift). 0 = never. */
  readonly resyncMs: number;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  readonly backoffMs?: (attempt: number) => number;
  /**
   * Delay before retrying after failed pass number `attempt` (0-based, reset by a successful pass). Default:
   * 1 s doubling to 60 s. A pass lists every AuthorizationPolicy and Namespace, so a broken API server or a
   * rejected apply must not be retried at the debounce rate.
   */
  readonly retryMs?: (attempt: number) => number;
}

/** Default {@link LiveOptions.retryMs}: 1 s, 2 s, 4 s … capped at 60 s. */
export const defaultRetryMs = (attempt: number): number => Math.min(60_000, 1000 * 2 ** Math.min(attempt, 16));

export class LiveReconciler {
  readonly metrics = new ReconcilerMetrics();
  private readonly watches: ListWatch[] = [];
  private readonly runs: Promise<void>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private resync: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private dirty = false;
  private stopped = false;
  /** Per Service with problems, the problem set last recorded as an Event: bounded by the Services in error. */
  private readonly reported = new Map<string, string>();
  private retry: NodeJS.Timeout | null = null;
  private failures = 0;
  private lastConfigMap = '';
  /** True after the first successful pass. */
  ready = false;
  /** Resolves each time a pass finishes (tests wait on it). */
  private passWaiters: (() => void)[] = [];
  passes = 0;

  constructor(
    private readonly api: KubeApi,
    private readonly options: LiveOptions,
  ) {}

  start(): void {
    const scopes: readonly (string | null)[] = this.options.namespaces.length > 0 ? this.options.namespaces : [null];
    // A selector-less RequestAuthentication in the root namespace covers every namespace: watch it too.
    const raScopes =
      scopes[0] === null || scopes.includes(this.options.rootNamespace)
        ? scopes
        : [...scopes, this.options.rootNamespace];
    for (const [type, nsList] of [
      [Resources.service, scopes],
      [Resources.requestAuthentication, raScopes],
    ] as const) {
      for (const ns of nsList) {
        const lw = new ListWatch(
          this.api,
          type,
          ns,
          {
            onChange: () => this.schedule(),
            onRestart: (reason, err) => {
              this.metrics.watchRestarts.inc({ resource: type.plural, reason });
              if (reason !== 'closed') {
                this.options.log('warn', 'watch restarted', { resource: type.plural, reason, err: describe(err) });
              }
            },
          },
          this.options.backoffMs ? { backoffMs: this.options.backoffMs } : {},
        );
        this.watches.push(lw);
        this.runs.push(lw.run());
      }
    }
    if (this.options.resyncMs > 0) {
      this.resync = setInterval(() => {
        // Re-apply the ConfigMap too: someone may have deleted or edited it (an SSA no-op costs little).
        this.lastConfigMap = '';
        this.schedule();
      }, this.options.resyncMs);
      this.resync.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.retry) clearTimeout(this.retry);
    if (this.resync) clearInterval(this.resync);
    for (const w of this.watches) w.stop();
    await Promise.all(this.runs);
    await this.running;
  }

  /** Resolves after the next pass completes. */
  nextPass(): Promise<void> {
    return new Promise((resolve) => this.passWaiters.push(resolve));
  }

  /** Services whose problems are remembered (for tests and metrics: never more than the Services in error). */
  get reportedCount(): number {
    return this.reported.size;
  }

  /** Failed passes since the last successful one. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  schedule(): void {
    if (this.stopped) return;
    // Backing off after a failure: the retry pass will see whatever changed meanwhile.
    if (this.retry) {
      this.dirty = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reconcile();
    }, this.options.debounceMs);
  }

  /** One pass; concurrent calls are coalesced into a following pass. */
  async reconcile(): Promise<void> {
    if (this.running) {
      this.dirty = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.dirty = false;
        // A pass runs from timers (debounce, resync): a rejection there would be unhandled and end the process.
        // Whatever escaped the pass's own handling is logged, and the next pass retries.
        try {
          await this.pass();
        } catch (err) {
          try {
            this.options.log('error', 'reconcile pass failed unexpectedly', { err: describe(err) });
          } catch {
            // The logger itself failed: nothing else to tell.
          }
          this.schedule();
        }
      } while (this.dirty && !this.stopped && this.retry === null);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    if (!this.watches.every((w) => w.synced)) return;
    let ok = true;
    const fail = (what: string, err: unknown) => {
      ok = false;
      this.options.log('error', what, { err: describe(err) });
    };
    try {
      const services = this.collect(Resources.service.kind) as ServiceObject[];
      const requestAuthentications = this.collect(Resources.requestAuthentication.kind);
      const scopes = this.options.namespaces.length > 0 ? this.options.namespaces : [null];
      const policies: KubeObject[] = [];
      for (const ns of scopes) policies.push(...(await this.api.list(Resources.authorizationPolicy, ns)).items);
      const namespaces = (await this.api.list(Resources.namespace, null)).items;
      const plan = planPolicies(
        { services, requestAuthentications, namespaces, authorizationPolicies: policies },
        this.options,
      );
      const existing = new Map(policies.map((p) => [objectKey(p), p]));

      for (const g of plan.policies.filter((p) => p.target === 'mesh')) {
        const current = existing.get(objectKey(g.object));
        if (current && isOwned(current) && sameObject(current, g.object)) continue;
        try {
          // Force only on objects we already own: it takes back fields someone edited by hand (drift), while a
          // new object never silently takes over another manager's fields.
          await this.api.apply(g.object as unknown as KubeObject, this.options.fieldManager, current !== undefined);
          this.metrics.applied.inc({ kind: 'AuthorizationPolicy' });
          this.options.log('info', 'applied', { policy: objectKey(g.object) });
        } catch (err) {
          fail(`apply ${objectKey(g.object)} failed`, err);
        }
      }

      const wanted = new Set(plan.policies.filter((p) => p.target === 'mesh').map((p) => objectKey(p.object)));
      for (const p of policies) {
        if (!isOwned(p) || wanted.has(objectKey(p))) continue;
        const service = p.metadata?.labels?.[Labels.service];
        if (service && plan.held.has(`${p.metadata?.namespace}/${service}`)) continue;
        try {
          await this.api.delete(Resources.authorizationPolicy, p.metadata?.namespace ?? '', p.metadata?.name ?? '');
          this.metrics.pruned.inc();
          this.options.log('info', 'pruned', { policy: objectKey(p) });
        } catch (err) {
          if ((err as { status?: number }).status !== 404) fail(`delete ${objectKey(p)} failed`, err);
        }
      }

      if (!(await this.applyConfigMap(plan.policies.filter((p) => p.target === 'mesh-authz')))) ok = false;
      await this.report(plan.errors, services);
      this.metrics.invalidServices.set(plan.held.size);
    } catch (err) {
      fail('reconcile pass failed', err);
    }
    this.metrics.runs.inc({ result: ok ? 'ok' : 'error' });
    if (ok) {
      this.metrics.lastSuccess.set(Date.now() / 1000);
      this.ready = true;
      this.failures = 0;
    } else if (!this.stopped) {
      // Retry without waiting for the next unrelated event, but back off: a pass lists everything.
      const delay = (this.options.retryMs ?? defaultRetryMs)(this.failures++);
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (this.retry) clearTimeout(this.retry);
      this.retry = setTimeout(() => {
        this.retry = null;
        void this.reconcile();
      }, delay);
      this.retry.unref();
    }
    this.passes++;
    const waiters = this.passWaiters;
    this.passWaiters = [];
    for (const w of waiters) w();
  }

  private collect(kind: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const w of this.watches) if (w.type.kind === kind) out.push(...w.items.values());
    return out;
  }

  private async applyConfigMap(policies: ReturnType<typeof planPolicies>['policies']): Promise<boolean> {
    const data: Record<string, string> = {};
    for (const p of policies) data[policyFile(p).slice('mesh-authz/'.length)] = renderPolicy(p);
    const body = canonicalJson(data);
    if (body === this.lastConfigMap) return true;
    const cm: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: this.options.configMapName,
        namespace: this.options.authzNamespace,
        labels: { [Labels.managedBy]: MANAGER },
        annotations: { [Annotations.sourceHash]: sourceHash(data) },
      },
      data,
    };
    try {
      await this.api.apply(cm, this.options.fieldManager, true);
      this.metrics.applied.inc({ kind: 'ConfigMap' });
      this.lastConfigMap = body;
      return true;
    } catch (err) {
      this.options.log('error', 'apply ConfigMap failed', { err: describe(err) });
      return false;
    }
  }

  /** A Warning Event on each Service with invalid annotations, once per distinct problem set. */
  private async report(errors: readonly ServiceError[], services: readonly ServiceObject[]): Promise<void> {
    const byService = new Map<string, ServiceError[]>();
    for (const e of errors) byService.set(e.service, [...(byService.get(e.service) ?? []), e]);
    const index = new Map(services.map((s) => [objectKey(s), s]));
    // Forget Services that are fixed or gone, so the memory is bounded by the Services in error right now.
    for (const key of [...this.reported.keys()]) if (!byService.has(key)) this.reported.delete(key);
    for (const [key, errs] of byService) {
      const svc = index.get(key);
      if (!svc || !isAnnotated(svc.metadata?.annotations)) continue;
      const message = errs.map(formatServiceError).join('; ');
      const id = `${svc.metadata?.uid ?? key}|${message}`;
      if (this.reported.get(key) === id) continue;
      this.options.log('warn', 'invalid annotations', { service: key, message });
      const now = new Date().toISOString();
      const ns = svc.metadata?.namespace ?? 'default';
      try {
        await this.api.create(
          {
            apiVersion: 'v1',
            kind: 'Event',
            metadata: { generateName: `${svc.metadata?.name}.`, namespace: ns },
            involvedObject: {
              apiVersion: 'v1',
              kind: 'Service',
              namespace: ns,
              name: svc.metadata?.name,
              uid: svc.metadata?.uid,
              resourceVersion: svc.metadata?.resourceVersion,
            },
            type: 'Warning',
            reason: errs[0]?.code === 'name_conflict' ? 'PolicyNameConflict' : 'InvalidAuthzAnnotation',
            message: message.slice(0, 1024),
            source: { component: 'mesh-authz-reconciler' },
            reportingComponent: 'mesh-authz-reconciler',
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
          this.options.fieldManager,
        );
        this.reported.set(key, id);
      } catch (err) {
        this.options.log('warn', 'could not record Event', { service: key, err: describe(err) });
      }
    }
  }
}

function sameObject(
  current: KubeObject,
  desired: { metadata: { annotations: Record<string, string> }; spec: unknown },
) {
  return (
    current.metadata?.annotations?.[Annotations.sourceHash] === desired.metadata.annotations[Annotations.sourceHash] &&
    canonicalJson(current.spec) === canonicalJson(desired.spec) &&
    current.metadata?.annotations?.[Annotations.istioDryRun] === desired.metadata.annotations[Annotations.istioDryRun]
  );
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'object' ? JSON.stringify(err) : String(err);
}
