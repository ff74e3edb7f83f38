import { type KubeApi, type ResourceType, statusOf, type WatchHandle } from './kube.js';
import { type KubeObject, objectKey } from './model.js';

/**
 * One resource's cache, kept by list-then-watch the way client-go's reflector does it: list to get a snapshot and
 * its resourceVersion, watch from there, and re-list when the server says the version is gone (410 Gone, as an
 * HTTP status or an ERROR event) or after a connection failure (API server restart: events may have been missed).
 * A watch the server simply ends is resumed from the last resourceVersion seen, without a re-list.
 */

export type RestartReason = 'expired' | 'error' | 'closed';

export interface ListWatchHooks {
  /** Something in the cache changed (or a fresh list replaced it). */
  onChange(): void;
  onRestart(reason: RestartReason, err: unknown): void;
}

export class ListWatch {
  readonly items = new Map<string, KubeObject>();
  private resourceVersion = '';
  private handle: WatchHandle | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  /** True once the first list succeeded: the cache is a real snapshot. */
  synced = false;

  constructor(
    private readonly api: KubeApi,
    readonly type: ResourceType,
    readonly namespace: string | null,
    private readonly hooks: ListWatchHooks,
    private readonly backoffMs: (attempt: number) => number = (n) => Math.min(30_000, 200 * 2 ** n),
  ) {}

  /** Runs until {@link stop}. Never throws: failures are retried with backoff. */
  async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === '') await this.relist();
        const outcome = await this.watchOnce();
        failures = 0;
        if (outcome.reason === 'expired') this.resourceVersion = '';
        if (!this.stopped) this.hooks.onRestart(outcome.reason, outcome.err);
        if (outcome.reason === 'error') {
          // The connection broke: the server may have restarted and lost or compacted history, so re-list.
          this.resourceVersion = '';
          await this.sleep(this.backoffMs(failures++));
        }
      } catch (err) {
        if (this.stopped) break;
        this.resourceVersion = '';
        this.hooks.onRestart('error', err);
        await this.sleep(this.backoffMs(failures++));
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.handle?.abort();
    this.wake?.();
  }

  private async relist(): Promise<void> {
    const res = await this.api.list(this.type, this.namespace);
    this.items.clear();
    for (const item of res.items) this.items.set(objectKey(item), item);
    this.resourceVersion = res.resourceVersion;
    this.synced = true;
    this.hooks.onChange();
  }

  private watchOnce(): Promise<{ reason: RestartReason; err: unknown }> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (reason: RestartReason, err: unknown) => {
        if (settled) return;
        settled = true;
        this.handle = null;
        resolve({ reason, err });
      };
      const onEvent = (type: string, obj: KubeObject) => {
        if (type === 'ERROR') {
          // The server reports an expired resourceVersion as an ERROR event carrying a Status with code 410.
          const expired = (obj as { code?: number }).code === 410;
          finish(expired ? 'expired' : 'error', obj);
          this.handle?.abort();
          return;
        }
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
        // client-node aborts a watch that was idle too long: the connection is fine, resume it.
        if ((err as { name?: string }).name === 'TimeoutError') return finish('closed', err);
        finish(this.stopped ? 'closed' : 'error', err);
      };
      this.api.watch(this.type, this.namespace, this.resourceVersion, onEvent, done).then(
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
