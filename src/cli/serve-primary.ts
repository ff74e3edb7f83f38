import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { LoadedConfig } from '../config/load.js';
import { AdminServer } from '../server/admin.js';
import { splitHostPort } from '../server/service.js';
import { shutdownOnSignals } from '../server/signals.js';
import { WorkerPool, WorkerStartError } from '../server/workers.js';
import { createLogger } from '../telemetry/logger.js';
import { OPENMETRICS_CONTENT_TYPE, toOpenMetrics, wantsOpenMetrics } from '../telemetry/openmetrics.js';
import { banner } from './banner.js';
import { knownError } from './exit-codes.js';

/**
 * `serve` with `server.workers` > 1: this process is the cluster primary. It answers no checks; it forks the
 * workers (each one runs `serve` with the same arguments, see serve.ts), serves the admin port itself, and turns
 * signals into one coherent shutdown of all workers.
 *
 * Why the admin port lives here and not in the workers: a shared admin port would hand each probe or scrape to
 * whichever worker accepts it, so /readyz would describe one worker and /metrics a random share of the traffic.
 * Here /readyz is the pool's readiness (every running worker ready, not draining) and /metrics is the sum over
 * the workers, collected on each scrape over the cluster IPC channel (prom-client's AggregatorRegistry).
 */

/** After the drain, how long workers may take to exit (flushes, the process exit) before they are killed. */
const STOP_MARGIN_MS = 5_000;
/** After shutdown, how long the process may wait for stray handles before it exits anyway. */
const EXIT_GRACE_MS = 100;

export async function runPrimary(loaded: LoadedConfig, count: number, version: string): Promise<number> {
  const { config } = loaded;
  const { logger, flush } = createLogger(config.telemetry.log, { version });
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled promise rejection');
  });
  const pool = new WorkerPool({
    count,
    logger,
    stopTimeoutMs: config.server.shutdownGraceMs + config.server.drainTimeoutMs + STOP_MARGIN_MS,
  });
  const admin = config.admin.enabled ? primaryAdmin(pool, config.telemetry.metrics.enabled) : null;
  let adminAddress: string | null = null;
  try {
    if (admin) {
      const { host, port } = splitHostPort(config.admin.listen);
      const a = await admin.listen(host, port);
      adminAddress = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
    }
  } catch (err) {
    const known = knownError(err);
    if (!known) throw err;
    process.stderr.write(`mesh-authz serve: ${known.message}\n`);
    return known.code;
  }
  logger.info({ workers: count }, 'starting worker processes');
  let addresses: Awaited<ReturnType<WorkerPool['start']>>;
  try {
    addresses = await pool.start();
  } catch (err) {
    if (!(err instanceof WorkerStartError)) throw err;
    // The worker printed its own reason (file:line, port in use…) to the shared stderr just before.
    process.stderr.write(`mesh-authz serve: ${err.message}; stopping the other workers\n`);
    await pool.whenAllExited();
    await admin?.close();
    await new Promise<void>((resolve) => flush().then(resolve, resolve));
    return err.signal ? 1 : err.exitCode || 1;
  }
  const stopped = new Promise<number>((resolve) => {
    shutdownOnSignals(pool, {
      onSignal: (signal) => logger.info({ signal, workers: pool.pids() }, 'signal received: stopping every worker'),
      exit: (code) => {
        // A second signal exits at once: the workers go with it.
        if (code !== 0) pool.kill();
        void admin?.close();
        logger.info({ code }, 'stopped');
        resolve(code);
        setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
      },
    });
  });
  process.stderr.write(banner(loaded, { ...addresses, admin: adminAddress }, pool.ready()));
  process.stderr.write(`workers: ${count} processes (pids ${pool.pids().join(', ')}), round-robin on one listener\n`);
  return await stopped;
}

function primaryAdmin(pool: WorkerPool, metricsEnabled: boolean): AdminServer {
  const aggregator = new AggregatorRegistry();
  const own = new Registry();
  new Gauge({
    name: 'mesh_authz_workers_ready',
    help: 'Worker processes running and ready (server.workers).',
    registers: [own],
    collect() {
      this.set(pool.readyCount());
    },
  });
  new Counter({
    name: 'mesh_authz_worker_restarts_total',
    help: 'Worker processes restarted after an unexpected exit.',
    registers: [own],
    collect() {
      this.reset();
      this.inc(pool.restarts);
    },
  });
  return new AdminServer({
    ready: () => pool.ready(),
    detail: () => pool.detail(),
    routes: {
      '/metrics': async (req, res) => {
        if (!metricsEnabled) {
          res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('metrics are disabled (telemetry.metrics.enabled: false)\n');
          return;
        }
        const text = `${await aggregator.clusterMetrics()}\n${await own.metrics()}`;
        // Exemplars are per worker (they point at one process's spans) and are not aggregated.
        const open = wantsOpenMetrics(req.headers.accept);
        res.writeHead(200, {
          'content-type': open ? OPENMETRICS_CONTENT_TYPE : aggregator.contentType,
          'cache-control': 'no-store',
        });
        res.end(open ? toOpenMetrics(text) : text);
      },
    },
  });
}

/** In a worker: answer the primary's metric collections from this registry. */
export function shareWorkerMetrics(registry: Registry): void {
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}
