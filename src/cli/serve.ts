import { createDecisionCache } from '../authz/cache.js';
import { type LoadedConfig, loadConfigFile, resolveFrom, verifyPolicyPaths } from '../config/load.js';
import { type Config, hostPortProblem } from '../config/schema.js';
import { FlowRecorder } from '../discovery/recorder.js';
import { reportCoverage } from '../policy/coverage.js';
import { type AssembledParts, assembleParts } from '../server/assemble.js';
import { heapLimitWarning } from '../server/memory-limit.js';
import { AuthzService, type ListeningAddresses } from '../server/service.js';
import { shutdownOnSignals } from '../server/signals.js';
import { resolveWorkers } from '../server/worker-count.js';
import { WorkerLink } from '../server/worker-link.js';
import { createTelemetry } from '../telemetry/index.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';
import { banner } from './banner.js';
import { knownError } from './exit-codes.js';
import { quietGrpcLogs } from './grpc-logs.js';
import { runPrimary, shareWorkerMetrics } from './serve-primary.js';
import { packageVersion } from './version.js';

/** The shortest telemetry flush at shutdown, even when the drain used up server.drainTimeoutMs. */
const MIN_TELEMETRY_FLUSH_MS = 200;
/** After shutdown, how long the process may wait for stray handles before it exits anyway. */
const EXIT_GRACE_MS = 100;

const HELP = `mesh-authz serve: run the ext_authz gRPC service

Usage: mesh-authz serve -c <file> [-l <host:port>] [--admin <host:port>]

  -c, --config <file>       the config file (YAML); see docs/configuration.md
  -l, --listen <host:port>  override server.listen (gRPC: envoy.service.auth.v3.Authorization, grpc.health.v1.Health)
  --admin <host:port>       override admin.listen (HTTP: /healthz, /readyz, /metrics; default port 9192)

With server.workers: <n> | auto, this process forks that many workers sharing the gRPC listener and serves the
admin port for all of them; a worker that exits is restarted. See docs/configuration.md.

Stops gracefully on SIGTERM/SIGINT: health turns NOT_SERVING, in-flight checks finish (up to
server.drainTimeoutMs), then the process exits 0. A bad config, TLS file or address exits 2; a port in use, 1.

Examples:
  mesh-authz serve -c examples/config.yaml
  mesh-authz serve -c /etc/mesh-authz/config.yaml -l 0.0.0.0:9191 --admin 0.0.0.0:9192`;

const options = {
  config: { type: 'string' },
  listen: { type: 'string' },
  admin: { type: 'string' },
} as const;

export const serveCommand: Command = {
  summary: 'run the ext_authz gRPC service',
  help: HELP,
  options,
  async run(argv) {
    const { values } = parseCommandArgs(argv, options);
    if (!values.config) throw new UsageError('--config is required');
    const configured = withOverrides(loadConfigFile(values.config), values.listen, values.admin);
    verifyPolicyPaths(configured);
    // server.workers > 1: this process becomes the cluster primary (serve-primary.ts) once the config is known to
    // be valid; each worker it forks runs this same command and carries on below, with the admin port left to
    // the primary.
    const link = WorkerLink.open();
    const workers = resolveWorkers(configured.config.server.workers);
    if (!link && workers > 1) return runPrimary(configured, workers, packageVersion());
    const loaded = link ? withoutAdmin(configured) : configured;
    const { config } = loaded;
    const drainMs = config.server.drainTimeoutMs;
    let stopRequestedAt: number | null = null;
    const telemetry = await createTelemetry(config.telemetry, {
      version: packageVersion(),
      pathNormalization: config.policy.pathNormalization,
    });
    const logger = telemetry.logger;
    if (link) shareWorkerMetrics(telemetry.metrics.registry);
    // Each worker warns for itself, counting the workers that share the container's limit with it.
    const heapWarning = heapLimitWarning(undefined, undefined, link ? workers : 1);
    if (heapWarning !== null) logger.warn({}, heapWarning);
    // Last resort: background work (reloads, refreshes) handles its own failures, but a rejection that still
    // escapes must not end the process (Node's default): a missing authz service makes Envoy deny the whole
    // mesh. It is logged as the bug it is; the last good policies and identity material keep serving.
    process.on('unhandledRejection', (reason) => {
      logger.error(
        { err: reason instanceof Error ? reason.message : String(reason) },
        'unhandled promise rejection (a bug): logged; the last good state keeps serving',
      );
    });
    const fail = async (message: string, code: number) => {
      process.stderr.write(`mesh-authz serve: ${message}\n`);
      await telemetry.shutdown();
      return code;
    };
    const coverageSink = {
      warn: (fields: Record<string, unknown>, message: string) => logger.warn(fields, message),
      setUncoveredWorkloads: (n: number) => telemetry.metrics.setUncoveredWorkloads(n),
    };
    let parts: AssembledParts;
    try {
      parts = await assembleParts(loaded, {
        logger,
        metricsRegistry: telemetry.metrics.registry,
        onPolicyReload: (event) => {
          if (!event.ok) {
            if (event.refused) return telemetry.metrics.policyReloadRefused(event.refused.reason);
            return telemetry.metrics.policyReloadFailed();
          }
          telemetry.metrics.policyLoaded(event.generation);
          // The store swaps the new set in before it reports the reload, so `current()` is already the new set.
          reportCoverage(parts.policies.current(), config.policy, coverageSink);
        },
      });
    } catch (err) {
      return fail(`invalid configuration in ${loaded.file}: ${(err as Error).message}`, 2);
    }
    // Monitor mode (discovery): record every decided Check into the bounded flow table, flushed off the Check path.
    const recorder = config.discovery.enabled
      ? new FlowRecorder(config.discovery, {
          resolvePath: (p) => resolveFrom(loaded, p),
          pathNormalization: config.policy.pathNormalization,
          onError: (err) => logger.warn({ err: (err as Error).message }, 'discovery: flow flush failed'),
          otlp: { resource: telemetry.resource, account: telemetry.flowLogAccount },
        })
      : null;
    let service: AuthzService;
    try {
      service = new AuthzService(loaded, {
        ...parts,
        cache: createDecisionCache(config.cache),
        tracer: telemetry.tracer,
        observers: recorder ? [telemetry.observer, recorder] : [telemetry.observer],
        adminRoutes: { '/metrics': (req, res) => telemetry.metrics.handleMetrics(req, res) },
        logger,
        held: link !== null,
        onClosed: async () => {
          await recorder?.close();
          // What is left of server.drainTimeoutMs since the signal (at least a short flush): a hung collector must
          // not hold a terminating pod past its drain budget.
          const spent = stopRequestedAt === null ? 0 : Date.now() - stopRequestedAt;
          await telemetry.shutdown(Math.max(MIN_TELEMETRY_FLUSH_MS, drainMs - spent));
        },
      });
    } catch (err) {
      const known = knownError(err);
      if (!known) throw err;
      return fail(known.message, known.code);
    }
    telemetry.metrics.countStreamResets(() => service.streamResets());
    // grpc-js logs its own line for a failed bind; the error below says it once, clearly.
    const restoreGrpcLogs = quietGrpcLogs(logger);
    let addresses: ListeningAddresses;
    try {
      addresses = await service.start();
    } catch (err) {
      await service.shutdown('startup failed');
      const known = knownError(err);
      if (known) return fail(known.message, known.code);
      throw err;
    } finally {
      restoreGrpcLogs();
    }
    const set = parts.policies.current();

    if (set) telemetry.metrics.policyLoaded(set.generation);
    const uncovered = reportCoverage(set, config.policy, coverageSink);
    if (uncovered.length > 0) {
      process.stderr.write(
        `warning: no enforced ALLOW policy covers ${uncovered.join(', ')}: they accept every request\n`,
      );
    }
    // The exit code is decided by the signal handler; keep the process alive until then. The handlers go in before
    // the banner: whoever reads "listening" may signal at once, and an unhandled SIGTERM would kill the process.
    const stopped = new Promise<number>((resolve) => {
      const exit = (code: number) => {
        resolve(code);
        // Everything is flushed or given up on; a socket still open to a hung collector must not keep the
        // process alive (an unref'd timer fires only if something else holds the event loop).
        setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
      };
      shutdownOnSignals(service, {
        onSignal: (signal) => {
          stopRequestedAt ??= Date.now();
          logger.info({ signal }, 'signal received');
        },
        exit,
      });
      // A worker stops when its primary says so (the primary got the signal), with the same grace and drain.
      link?.follow(service, addresses, {
        detail: parts.readiness,
        stop: (reason, grace) => {
          stopRequestedAt ??= Date.now();
          logger.info({ reason, worker: link.slot }, 'stop requested by the primary');
          service.shutdown(reason, { grace }).then(
            () => exit(0),
            () => exit(1),
          );
        },
      });
    });
    if (!link) process.stderr.write(banner(loaded, addresses, service.ready()));
    return await stopped;
  },
};

/** A worker leaves the admin port (/readyz, /metrics) to the primary, which speaks for all workers. */
function withoutAdmin(loaded: LoadedConfig): LoadedConfig {
  return { ...loaded, config: { ...loaded.config, admin: { ...loaded.config.admin, enabled: false } } };
}

function withOverrides(loaded: LoadedConfig, listen?: string, admin?: string): LoadedConfig {
  if (!listen && !admin) return loaded;
  for (const [flag, value] of [
    ['--listen', listen],
    ['--admin', admin],
  ] as const) {
    const problem = value === undefined ? null : hostPortProblem(value);
    if (problem) throw new UsageError(`${flag} ${value}: ${problem}`);
  }
  const config: Config = {
    ...loaded.config,
    server: { ...loaded.config.server, ...(listen ? { listen } : {}) },
    admin: { ...loaded.config.admin, ...(admin ? { listen: admin } : {}) },
  };
  return { ...loaded, config };
}
