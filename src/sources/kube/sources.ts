import type { Registry } from 'prom-client';
import type { CompileOptions } from '../../policy/options.js';
import { SnapshotStore } from '../snapshot.js';
import type { KubeApi } from './api.js';
import { KubernetesMetrics } from './metrics.js';
import type { KubeObject } from './object.js';
import { KubernetesPolicySource, type PolicyApiVersionName } from './policy-source.js';
import type { WorkloadEntry } from './workload-index.js';
import { KubernetesWorkloadRegistry } from './workload-registry.js';

/**
 * The Kubernetes-fed parts of a running server, built together because they share a client, a snapshot
 * directory and a start-up rule: start the informers; if the API server has not answered by the time the first
 * attempt fails (or `startupTimeoutMs` passes), serve the last good snapshots, marked stale, until it does.
 */

export interface KubernetesSourcesOptions {
  readonly namespaces: readonly string[];
  readonly resyncMs: number;
  readonly workloads: boolean;
  readonly policies: {
    readonly enabled: boolean;
    readonly labelSelector?: string;
    readonly provider?: string;
    readonly versions: readonly PolicyApiVersionName[];
    readonly events: boolean;
  };
  readonly compile: CompileOptions;
  /** Where last-good snapshots are kept (an emptyDir); none = no snapshots. */
  readonly snapshotDir?: string;
  /** Identifies the cluster in snapshot origins (the API server URL). */
  readonly server: string;
  readonly startupTimeoutMs: number;
  readonly backoffMs?: (attempt: number) => number;
  readonly metricsRegistry?: Registry;
  readonly log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export interface KubernetesSources {
  readonly registry: KubernetesWorkloadRegistry | null;
  readonly policies: KubernetesPolicySource | null;
  /** Readiness details for `/readyz` (e.g. serving a stale snapshot). */
  readiness(): string[];
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createKubernetesSources(api: KubeApi, options: KubernetesSourcesOptions): KubernetesSources {
  return new Sources(api, options);
}

class Sources implements KubernetesSources {
  readonly registry: KubernetesWorkloadRegistry | null;
  readonly policies: KubernetesPolicySource | null;
  private readonly metrics: KubernetesMetrics;
  private readonly snapshots: SnapshotStore | null;
  private snapshotTimes: { policies?: string; workloads?: string } = {};
  private writeTimer: NodeJS.Timeout | null = null;
  private pendingWorkloads: readonly WorkloadEntry[] | null = null;
  private firstError: (() => void) | null = null;
  private started: Promise<void> | null = null;

  constructor(
    api: KubeApi,
    private readonly options: KubernetesSourcesOptions,
  ) {
    const { policies: p } = options;
    this.snapshots = options.snapshotDir
      ? new SnapshotStore(
          options.snapshotDir,
          [
            options.server,
            `namespaces=${options.namespaces.join(',') || '*'}`,
            `selector=${p.labelSelector ?? ''}`,
            `provider=${p.provider ?? ''}`,
            `versions=${p.versions.join(',')}`,
          ].join(' '),
        )
      : null;
    const onRestart = (resource: string, reason: string, err: unknown) => {
      this.metrics.watchRestarts.inc({ resource, reason });
      if (reason === 'closed') return;
      options.log('warn', 'kubernetes watch restarted', { resource, reason, err: describe(err) });
      if (reason === 'error') this.firstError?.();
    };
    const common = {
      namespaces: options.namespaces,
      ...(options.resyncMs > 0 ? { resyncMs: options.resyncMs } : {}),
      ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}),
      onRestart,
    };
    this.registry = options.workloads
      ? new KubernetesWorkloadRegistry(api, {
          ...common,
          onUpdate: (entries) => this.saveWorkloads(entries),
        })
      : null;
    this.policies = p.enabled
      ? new KubernetesPolicySource(api, {
          ...common,
          versions: p.versions,
          ...(p.labelSelector ? { labelSelector: p.labelSelector } : {}),
          ...(p.provider ? { provider: p.provider } : {}),
          events: p.events,
          compile: options.compile,
          log: options.log,
          onRefused: () => this.metrics.policyRefused.inc(),
          onAccepted: (objects, set) => {
            options.log('info', 'policies loaded from the API server', {
              generation: set.generation,
              policies: set.policies.length,
            });
            void this.save('policies', objects);
          },
        })
      : null;
    this.metrics = new KubernetesMetrics(options.metricsRegistry, {
      stale: () => ({ policies: this.policies?.stale ?? false, workloads: this.registry?.stale ?? false }),
      pods: () => this.registry?.size ?? 0,
    });
  }

  start(): Promise<void> {
    this.started ??= this.doStart();
    return this.started;
  }

  private async doStart(): Promise<void> {
    const live = Promise.all([this.registry?.whenLive(), this.policies?.whenLive()]);
    const unreachable = new Promise<void>((resolve) => {
      this.firstError = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.startupTimeoutMs);
      timer.unref();
    });
    this.registry?.start();
    await this.policies?.start();
    const first = await Promise.race([live.then(() => 'live' as const), unreachable, timeout]);
    clearTimeout(timer);
    this.firstError = null;
    if (first === 'live') return;
    await this.loadSnapshots();
  }

  private async loadSnapshots(): Promise<void> {
    if (!this.snapshots) return;
    if (this.policies && !this.policies.isLive) {
      const read = await this.snapshots.read('policies');
      if (!read.ok) this.refuse('policies', read.reason, read.message);
      else if (!Array.isArray(read.payload)) this.refuse('policies', 'corrupt', 'policies snapshot is not a list');
      else {
        const issues = this.policies.loadSnapshot(read.payload as KubeObject[]);
        if (issues.length > 0) this.refuse('policies', 'corrupt', `${issues.length} invalid policies in the snapshot`);
        else {
          this.snapshotTimes.policies = read.writtenAt;
          this.options.log('warn', 'API server unreachable: serving the last good policies (stale)', {
            writtenAt: read.writtenAt,
          });
        }
      }
    }
    if (this.registry && !this.registry.synced) {
      const read = await this.snapshots.read('workloads');
      if (!read.ok) this.refuse('workloads', read.reason, read.message);
      else if (!isEntries(read.payload)) this.refuse('workloads', 'corrupt', 'workloads snapshot has a bad shape');
      else {
        this.registry.loadSnapshot(read.payload);
        this.snapshotTimes.workloads = read.writtenAt;
        this.options.log('warn', 'API server unreachable: serving the last good workload registry (stale)', {
          writtenAt: read.writtenAt,
        });
      }
    }
  }

  private refuse(kind: 'policies' | 'workloads', reason: string, message: string): void {
    if (reason === 'missing') {
      this.options.log('warn', `API server unreachable and no ${kind} snapshot yet`, { message });
      return;
    }
    this.metrics.snapshotRefused.inc({ kind, reason });
    this.options.log('error', `${kind} snapshot refused`, { reason, message });
  }

  readiness(): string[] {
    const out: string[] = [];
    if (this.policies?.stale) out.push(`policies: stale snapshot from ${this.snapshotTimes.policies}`);
    if (this.registry?.stale) out.push(`workloads: stale snapshot from ${this.snapshotTimes.workloads}`);
    if (this.registry && !this.registry.synced) out.push('workloads: not synced');
    return out;
  }

  /** Pods churn: registry snapshots are written at most once a second. */
  private saveWorkloads(entries: readonly WorkloadEntry[]): void {
    if (!this.snapshots) return;
    this.pendingWorkloads = entries;
    if (this.writeTimer) return;
    this.writeTimer = setTimeout(() => {
      this.writeTimer = null;
      const pending = this.pendingWorkloads;
      this.pendingWorkloads = null;
      if (pending) void this.save('workloads', pending);
    }, 1000);
    this.writeTimer.unref();
  }

  private async save(kind: 'policies' | 'workloads', payload: unknown): Promise<void> {
    if (!this.snapshots) return;
    try {
      await this.snapshots.write(kind, payload);
    } catch (err) {
      this.options.log('warn', `could not write the ${kind} snapshot`, { err: describe(err) });
    }
  }

  async close(): Promise<void> {
    if (this.writeTimer) clearTimeout(this.writeTimer);
    const pending = this.pendingWorkloads;
    this.pendingWorkloads = null;
    if (pending) await this.save('workloads', pending);
    await Promise.all([this.registry?.stop(), this.policies?.close()]);
  }
}

function isEntries(value: unknown): value is WorkloadEntry[] {
  return (
    Array.isArray(value) &&
    value.every(
      (e) =>
        typeof e === 'object' &&
        e !== null &&
        typeof (e as WorkloadEntry).namespace === 'string' &&
        typeof (e as WorkloadEntry).labels === 'object' &&
        Array.isArray((e as WorkloadEntry).ips),
    )
  );
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'object' ? JSON.stringify(err) : String(err);
}
