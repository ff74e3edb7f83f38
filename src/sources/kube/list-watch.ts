import type { KubeApi, WatchHandle } from './api.js';
import { statusOf } from './errors.js';
import { type KubeObject, objectKey } from './object.js';
import type { ResourceType } from './resources.js';

/**
 * One resource's cache, kept by list-then-watch the way client-go's reflector does it: list to get a snapshot and
 * its resourceVersion, watch from there, and re-list when the server says the version is gone (410 Gone, as an
 * HTTP status or an ERROR event) or after a connection failure (API server restart: events may have been missed).
 * A watch the server simply ends is resumed from the last resourceVersion seen, without a re-list. Failures back off
 * exponentially (reset by a watch that delivered events). Shared by the reconciler (Services,
 * RequestAuthentications), the workload registry (Pods, Services) and the policy source (AuthorizationPolicies).
 */

export type RestartReason = 'expired' | 'error' | 'closed';

export interface ListWatchHooks {
  /** Something in the cache changed (or a fresh list replaced it). */
  onChange(): void;
  onRestart(reason: RestartReason, err: unknown): void;
}

export interface ListWatchOptions {
  readonly backoffMs?: (attempt: number) => number;
  readonly labelSelector?: string;
  /**
   * Call `onChange` at least this often even without events (client-go's informer resync), so consumers re-derive
   * their state and repair anything a handler dropped. 0 = never.
   */
  readonly resyncMs?: number;
}

/** Exponential backoff from 200 ms to 30 s. */
export const defaultBackoff = (attempt: number): number => Math.min(30_000, 200 * 2 ** attempt);

export class ListWatch {
  readonly items = new Map<string, KubeObject>();
  private resourceVersion = '';
  private handle: WatchHandle | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private resync: NodeJS.Timeout | null = null;
  private readonly backoffMs: (attempt: number) => number;
  /** True once the first list succeeded: the cache is a real snapshot. */
  synced = false;
  /** Consecutive failures (lists or watches that broke before delivering anything). */
  failures = 0;

  constructor(
    private readonly api: KubeApi,
    readonly type: ResourceType,
    readonly namespace: string | null,
    private readonly hooks: ListWatchHooks,
    private readonly options: ListWatchOptions = {},
  ) {
    this.backoffMs = options.backoffMs ?? defaultBackoff;
  }

  /** Runs until {@link stop}. Never throws: failures are retried with backoff. */
  async run(): Promise<void> {
    if (this.options.resyncMs) {
      this.resync = setInterval(() => {
        if (this.synced) this.hooks.onChange();
      }, this.options.resyncMs);
      this.resync.unref();
    }
    while (!this.stopped) {
      try {
        if (this.resourceVersion === '') await this.relist();
        const outcome = await this.watchOnce();
        if (outcome.delivered) this.failures = 0;
        if (outcome.reason === 'expired') this.resourceVersion = '';
        if (!this.stopped) this.hooks.onRestart(outcome.reason, outcome.err);
        if (outcome.reason === 'error') {
          // The connection broke: the server may have restarted and lost or compacted history, so re-list.
          this.resourceVersion = '';
          await this.sleep(this.backoffMs(this.failures++));
        }
      } catch (err) {
        if (this.stopped) break;
        this.resourceVersion = '';
        this.hooks.onRestart('error', err);
        await this.sleep(this.backoffMs(this.failures++));
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.resync) clearInterval(this.resync);
    this.handle?.abort();
    this.wake?.();
  }

  private async relist(): Promise<void> {
    const res = await this.api.list(this.type, this.namespace, this.selector());
    this.items.clear();
    for (const item of res.items) this.items.set(objectKey(item), item);
    this.resourceVersion = res.resourceVersion;
    this.synced = true;
    this.hooks.onChange();
  }

  private selector(): { labelSelector?: string } {
    return this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {};
  }

  private watchOnce(): Promise<{ reason: RestartReason; err: unknown; delivered: boolean }> {
    return new Promise((resolve) => {
      let settled = false;
      let delivered = false;
      const finish = (reason: RestartReason, err: unknown) => {
        if (settled) return;
        settled = true;
        this.handle = null;
        resolve({ reason, err, delivered });
      };
      const onEvent = (type: string, obj: KubeObject) => {
        if (type === 'ERROR') {
          // The server reports an expired resourceVersion as an ERROR event carrying a Status with code 410.
          const expired = (obj as { code?: number }).code === 410;
          finish(expired ? 'expired' : 'error', obj);
          this.handle?.abort();
          return;
        }
        delivered = true;
        const rv = obj.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (type === 'BOOKMARK') return;
        const key = objectKey(obj);
        if (type === 'DELETED') this.items.delete(key);
        else this.items.set(key, { apiVersion: this.type.apiVersion, kind: this.type.kind, ...obj });
        this.hooks.onChange();
      };
      const done = (err: unknown) => {
        if (err === null || err === undefined) return finish('closed', null);
        if (statusOf(err) === 410) return finish('expired', err);
        finish(this.stopped ? 'closed' : 'error', err);
      };
      this.api.watch(this.type, this.namespace, this.resourceVersion, onEvent, done, this.selector()).then(
        (h) => {
          this.handle = h;
          if (settled || this.stopped) h.abort();
        },
        (err: unknown) => done(err ?? new Error('watch failed')),
      );
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }
}
