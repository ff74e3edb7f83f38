import type { RegisteredWorkload, WorkloadRegistry } from '../../authz/workloads.js';
import type { KubeApi } from './api.js';
import { coalesced } from './coalesce.js';
import { ListWatch, type ListWatchOptions, type RestartReason } from './list-watch.js';
import { Resources } from './resources.js';
import {
  buildIndex,
  EMPTY_INDEX,
  saKey,
  type WorkloadEntry,
  type WorkloadIndex,
  workloadEntries,
} from './workload-index.js';

/**
 * The workload registry fed by the Kubernetes API: list/watch of Pods (IP → namespace, labels, service account)
 * and Services (which Services select each pod → `targets`), through the shared client and its informers (410
 * re-list, backoff, resync). Every change rebuilds the index off the Check path and swaps it in with one
 * assignment; lookups are two map reads.
 *
 * Until both lists have completed, `synced` is false (workload resolution then fails closed), unless a snapshot of
 * the last good state was loaded: it serves, marked `stale`, until the live lists replace it.
 */

export interface KubernetesRegistryOptions {
  /** Namespaces to watch; empty = all. */
  readonly namespaces: readonly string[];
  readonly resyncMs?: number;
  readonly backoffMs?: (attempt: number) => number;
  /** Told of every rebuild from live data (snapshots are written from here). */
  readonly onUpdate?: (entries: readonly WorkloadEntry[]) => void;
  readonly onRestart?: (resource: string, reason: RestartReason, err: unknown) => void;
}

export class KubernetesWorkloadRegistry implements WorkloadRegistry {
  private index: WorkloadIndex = EMPTY_INDEX;
  private entries: readonly WorkloadEntry[] = [];
  private readonly pods: ListWatch[] = [];
  private readonly services: ListWatch[] = [];
  private readonly runs: Promise<void>[] = [];
  /** Coalesces a burst of watch events (a Deployment rollout) into one rebuild. */
  private readonly schedule = coalesced(() => this.rebuild());
  private live = false;
  private fromSnapshot = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly api: KubeApi,
    private readonly options: KubernetesRegistryOptions,
  ) {}

  /** True once live lists of Pods and Services completed, or a snapshot was loaded. */
  get synced(): boolean {
    return this.live || this.fromSnapshot;
  }

  /** Serving a snapshot: the live source has not answered yet. */
  get stale(): boolean {
    return !this.live && this.fromSnapshot;
  }

  /** Indexed pods. */
  get size(): number {
    return this.index.pods;
  }

  byAddress(ip: string): RegisteredWorkload | undefined {
    return this.index.byIp.get(ip);
  }

  byServiceAccount(namespace: string, serviceAccount: string): readonly RegisteredWorkload[] {
    return this.index.bySa.get(saKey(namespace, serviceAccount)) ?? [];
  }

  /** The current entries (for snapshots). */
  snapshot(): readonly WorkloadEntry[] {
    return this.entries;
  }

  /** Serves `entries` (the last good state from disk) until the live lists complete. Ignored once live. */
  loadSnapshot(entries: readonly WorkloadEntry[]): void {
    if (this.live) return;
    this.entries = entries;
    this.index = buildIndex(entries);
    this.fromSnapshot = true;
  }

  start(): void {
    const scopes: readonly (string | null)[] = this.options.namespaces.length > 0 ? this.options.namespaces : [null];
    const lwOptions: ListWatchOptions = {
      ...(this.options.backoffMs ? { backoffMs: this.options.backoffMs } : {}),
      ...(this.options.resyncMs ? { resyncMs: this.options.resyncMs } : {}),
    };
    for (const [type, into] of [
      [Resources.pod, this.pods],
      [Resources.service, this.services],
    ] as const) {
      for (const ns of scopes) {
        const lw = new ListWatch(
          this.api,
          type,
          ns,
          {
            onChange: () => this.schedule(),
            onRestart: (reason, err) => this.options.onRestart?.(type.plural, reason, err),
          },
          lwOptions,
        );
        into.push(lw);
        this.runs.push(lw.run());
      }
    }
  }

  /** Resolves once the registry is synced from the live source. */
  whenLive(): Promise<void> {
    if (this.live) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async stop(): Promise<void> {
    for (const w of [...this.pods, ...this.services]) w.stop();
    await Promise.all(this.runs);
  }

  private rebuild(): void {
    const all = [...this.pods, ...this.services];
    if (!all.every((w) => w.synced)) return;
    const entries = workloadEntries(
      this.pods.flatMap((w) => [...w.items.values()]),
      this.services.flatMap((w) => [...w.items.values()]),
    );
    this.entries = entries;
    this.index = buildIndex(entries);
    this.live = true;
    this.options.onUpdate?.(entries);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
