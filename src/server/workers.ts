import cluster, { type Worker } from 'node:cluster';
import type { ServiceLogger } from './logger.js';
import type { ListeningAddresses } from './service.js';
import { isWorkerMessage, type PrimaryMessage, WORKER_SLOT_ENV, type WorkerMessage } from './worker-protocol.js';

/**
 * The cluster primary's pool of `server.workers` processes (node:cluster). The primary answers no checks: the
 * workers share the gRPC listener (round-robin: the primary accepts each connection and hands it to the next
 * worker, so long-lived Envoy connections spread evenly instead of piling onto whichever worker the kernel wakes).
 *
 * - Start: every worker loads the config and its policies itself; `start()` resolves once all of them listen, and
 *   only then are they released to say SERVING. A worker that exits before that fails the start, with its exit code.
 * - A worker that exits later is logged and restarted in the same slot, after a backoff that doubles with each
 *   failure in a row (a worker that stayed up for {@link STABLE_MS} starts the count over).
 * - Shutdown: every worker gets the same message (with or without the SIGTERM grace), enters its own grace and
 *   drain, and exits; `shutdown()` settles when all have exited: resolved if every exit code was 0.
 */

/** First restart delay, doubled per failure in a row, up to {@link MAX_RESTART_DELAY_MS}. */
const BASE_RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker up this long after it started listening resets its slot's failure count. */
const STABLE_MS = 30_000;

export class WorkerStartError extends Error {
  constructor(
    readonly slot: number,
    readonly exitCode: number,
    readonly signal: string | null,
  ) {
    super(`worker ${slot} failed to start (${signal ? `killed by ${signal}` : `exit code ${exitCode}`})`);
  }
}

interface Slot {
  readonly slot: number;
  worker: Worker | null;
  listening: boolean;
  ready: boolean;
  detail: readonly string[];
  listeningAt: number;
  failures: number;
  restart: NodeJS.Timeout | null;
}

export interface WorkerPoolOptions {
  readonly count: number;
  readonly logger: ServiceLogger;
  /** How long workers may take to exit once told to stop (grace + drain + a margin), before they are killed. */
  readonly stopTimeoutMs: number;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly log: ServiceLogger;
  private started = false;
  private draining = false;
  private addresses: ListeningAddresses | null = null;
  private startWaiter: { resolve(a: ListeningAddresses): void; reject(e: Error): void } | null = null;
  private exitWaiter: (() => void) | null = null;
  private readonly exitCodes: { slot: number; code: number; signal: string | null }[] = [];
  private stopping: Promise<void> | null = null;
  /** Workers restarted after an unexpected exit, since the start (a metric). */
  restarts = 0;

  constructor(private readonly options: WorkerPoolOptions) {
    this.log = options.logger;
    for (let slot = 1; slot <= options.count; slot++) {
      this.slots.push({
        slot,
        worker: null,
        listening: false,
        ready: false,
        detail: [],
        listeningAt: 0,
        failures: 0,
        restart: null,
      });
    }
  }

  /** Forks every worker; resolves with their (shared) addresses once all listen. Rejects with a WorkerStartError. */
  start(): Promise<ListeningAddresses> {
    // Round-robin in the primary (the default on Linux, not on Windows): said explicitly, before the first fork.
    cluster.schedulingPolicy = cluster.SCHED_RR;
    return new Promise((resolve, reject) => {
      this.startWaiter = { resolve, reject };
      for (const slot of this.slots) this.fork(slot);
    });
  }

  /** Started, not draining, and every worker that is running reports ready (a crashed slot awaiting its restart
   * does not take the others' readiness away: the listener only hands connections to running workers). */
  ready(): boolean {
    if (!this.started || this.draining) return false;
    const running = this.slots.filter((s) => s.listening);
    return running.length > 0 && running.every((s) => s.ready);
  }

  /** Lines for /readyz: how many workers are ready, and each worker's own detail. */
  detail(): string[] {
    const running = this.slots.filter((s) => s.listening);
    const lines = [`workers: ${running.filter((s) => s.ready).length}/${this.slots.length} ready`];
    for (const s of this.slots) {
      if (!s.listening) lines.push(`worker ${s.slot}: ${s.restart ? 'restarting' : 'starting'}`);
      for (const line of s.detail) lines.push(`worker ${s.slot}: ${line}`);
    }
    return lines;
  }

  /** Workers running and ready (a metric). */
  readyCount(): number {
    return this.slots.filter((s) => s.listening && s.ready).length;
  }

  /** The pids of the running workers, by slot (tests and the bench read them). */
  pids(): number[] {
    return this.slots.flatMap((s) => (s.worker?.process.pid === undefined ? [] : [s.worker.process.pid]));
  }

  /**
   * Tells every worker to shut down and waits for all to exit (killing what is left after `stopTimeoutMs`).
   * Rejects when a worker exited with a code other than 0 or had to be killed. Idempotent.
   */
  shutdown(reason: string, options: { grace?: boolean } = {}): Promise<void> {
    this.stopping ??= this.doShutdown(reason, options.grace === true);
    return this.stopping;
  }

  /** Kills every worker at once (a second signal: the operator asked twice). */
  kill(): void {
    for (const s of this.slots) s.worker?.process.kill('SIGKILL');
  }

  private async doShutdown(reason: string, grace: boolean): Promise<void> {
    this.draining = true;
    for (const s of this.slots) {
      if (s.restart) clearTimeout(s.restart);
      s.restart = null;
    }
    const allExited = new Promise<void>((resolve) => {
      this.exitWaiter = resolve;
    });
    this.broadcast({ type: 'mesh-authz:shutdown', reason, grace });
    this.checkAllExited();
    const timer = setTimeout(() => {
      const left = this.slots.filter((s) => s.worker !== null).map((s) => s.slot);
      this.log.warn({ workers: left }, 'workers did not exit in time after the drain: killing them');
      this.kill();
    }, this.options.stopTimeoutMs);
    await allExited;
    clearTimeout(timer);
    const failed = this.exitCodes.filter((e) => e.code !== 0 || e.signal !== null);
    if (failed.length > 0) {
      throw new Error(`worker ${failed.map((f) => f.slot).join(', ')} did not stop cleanly`);
    }
  }

  private fork(slot: Slot): void {
    slot.restart = null;
    slot.listening = false;
    slot.ready = false;
    slot.detail = [];
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot.slot) });
    slot.worker = worker;
    worker.on('message', (message: unknown) => {
      if (isWorkerMessage(message)) this.onMessage(slot, worker, message);
    });
    worker.on('exit', (code, signal) => this.onExit(slot, worker, code, signal));
  }

  private onMessage(slot: Slot, worker: Worker, message: WorkerMessage): void {
    if (slot.worker !== worker) return;
    slot.ready = message.ready;
    slot.detail = message.detail;
    if (message.type !== 'mesh-authz:listening') return;
    slot.listening = true;
    slot.listeningAt = Date.now();
    this.addresses ??= message.addresses;
    this.log.info({ worker: slot.slot, workerPid: worker.process.pid, ready: message.ready }, 'worker listening');
    if (this.started) {
      send(worker, { type: 'mesh-authz:release' });
      return;
    }
    if (this.slots.every((s) => s.listening)) {
      this.started = true;
      this.broadcast({ type: 'mesh-authz:release' });
      this.startWaiter?.resolve(this.addresses);
      this.startWaiter = null;
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    const wasListening = slot.listening;
    slot.listening = false;
    slot.ready = false;
    const exitCode = code ?? 1;
    const fields = { worker: slot.slot, workerPid: worker.process.pid, code, signal };
    if (this.draining) {
      this.exitCodes.push({ slot: slot.slot, code: exitCode, signal });
      this.log.info(fields, 'worker exited');
      this.checkAllExited();
      return;
    }
    if (!this.started) {
      // A worker that cannot start (bad policies, port in use…) has printed why; the start fails with its code.
      const waiter = this.startWaiter;
      this.startWaiter = null;
      this.draining = true;
      this.broadcast({ type: 'mesh-authz:shutdown', reason: 'another worker failed to start', grace: false });
      waiter?.reject(new WorkerStartError(slot.slot, exitCode, signal));
      return;
    }
    if (wasListening && Date.now() - slot.listeningAt >= STABLE_MS) slot.failures = 0;
    const delay = Math.min(MAX_RESTART_DELAY_MS, BASE_RESTART_DELAY_MS * 2 ** slot.failures);
    slot.failures++;
    this.log.error(
      { ...fields, restartInMs: delay, failuresInARow: slot.failures },
      'worker exited unexpectedly: restarting it (the other workers keep answering)',
    );
    this.restarts++;
    slot.restart = setTimeout(() => this.fork(slot), delay);
  }

  /** Settles once every worker of a start that failed has exited (the caller exits with the failed one's code). */
  whenAllExited(): Promise<void> {
    if (this.slots.every((s) => s.worker === null)) return Promise.resolve();
    return new Promise((resolve) => {
      this.exitWaiter = resolve;
      setTimeout(() => this.kill(), this.options.stopTimeoutMs).unref();
    });
  }

  private checkAllExited(): void {
    if (this.slots.some((s) => s.worker !== null)) return;
    this.exitWaiter?.();
    this.exitWaiter = null;
  }

  private broadcast(message: PrimaryMessage): void {
    for (const s of this.slots) if (s.worker) send(s.worker, message);
  }
}

function send(worker: Worker, message: PrimaryMessage): void {
  if (worker.isConnected()) worker.send(message);
}
