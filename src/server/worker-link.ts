import cluster from 'node:cluster';
import type { ListeningAddresses } from './service.js';
import { isPrimaryMessage, type ShutdownMessage, WORKER_SLOT_ENV, type WorkerMessage } from './worker-protocol.js';

/**
 * A cluster worker's side of the link to its primary (workers.ts): it reports where it listens and whether it is
 * ready, is released (allowed to say SERVING) once every worker has started, and shuts down when told to (the
 * primary got SIGTERM) or when the primary is gone (a worker must never outlive it: nothing would restart or stop
 * it, and the admin port with /readyz lives in the primary).
 */

/** What the link needs of the service (AuthzService). */
export interface LinkedService {
  localReady(): boolean;
  release(): void;
}

export interface LinkHandlers {
  /** Starts the graceful shutdown; the caller's exit path ends the process. Called at most once. */
  stop(reason: string, grace: boolean): void;
  /** Readiness detail lines (a stale snapshot…), shown by the primary's /readyz. */
  detail?: () => readonly string[];
}

/** How often the worker compares its readiness with what it last reported (the service polls its own at 500 ms). */
const STATUS_POLL_MS = 250;

export class WorkerLink {
  /** The worker's slot, 1..N (stable across restarts: log lines say which one was replaced). */
  readonly slot: number;
  private pending: ShutdownMessage | null = null;
  private handlers: LinkHandlers | null = null;
  private stopped = false;
  private onRelease: (() => void) | null = null;

  private constructor() {
    this.slot = Number(process.env[WORKER_SLOT_ENV] ?? cluster.worker?.id ?? 0);
    process.on('message', (message: unknown) => {
      if (!isPrimaryMessage(message)) return;
      if (message.type === 'mesh-authz:release') this.onRelease?.();
      else this.onShutdown(message);
    });
    process.on('disconnect', () =>
      this.onShutdown({ type: 'mesh-authz:shutdown', reason: 'primary gone', grace: false }),
    );
  }

  /** The link when this process is a worker forked by `serve`, else null. */
  static open(): WorkerLink | null {
    return cluster.isWorker && typeof process.send === 'function' ? new WorkerLink() : null;
  }

  /** Called once the service listens: reports it and follows the primary's messages from now on. */
  follow(service: LinkedService, addresses: ListeningAddresses, handlers: LinkHandlers): void {
    this.handlers = handlers;
    this.onRelease = () => service.release();
    const detail = () => handlers.detail?.() ?? [];
    let ready = service.localReady();
    let lines = detail();
    this.send({ type: 'mesh-authz:listening', addresses, ready, detail: lines });
    const timer = setInterval(() => {
      const nowReady = service.localReady();
      const nowLines = detail();
      if (nowReady === ready && nowLines.join('\n') === lines.join('\n')) return;
      ready = nowReady;
      lines = nowLines;
      this.send({ type: 'mesh-authz:status', ready, detail: lines });
    }, STATUS_POLL_MS);
    timer.unref();
    if (this.pending) this.onShutdown(this.pending);
  }

  private onShutdown(message: ShutdownMessage): void {
    if (this.stopped) return;
    if (!this.handlers) {
      // Told to stop while still starting (another worker failed to start, or the primary is gone): nothing has
      // been answered here yet; leave as soon as the start is over, or now if the primary is gone.
      if (message.reason === 'primary gone') process.exit(1);
      this.pending = message;
      return;
    }
    this.stopped = true;
    this.handlers.stop(message.reason, message.grace);
  }

  private send(message: WorkerMessage): void {
    if (process.connected) process.send?.(message);
  }
}
