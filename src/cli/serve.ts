import { relative } from 'node:path';
import { createDecisionCache } from '../authz/cache.js';
import { type LoadedConfig, loadConfigFile, resolveFrom } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createFlowRecorder } from '../discovery/recorder.js';
import { reportCoverage } from '../policy/coverage.js';
import { PolicyLoadError } from '../policy/model.js';
import { type AssembledParts, assembleParts } from '../server/assemble.js';
import { ServiceError } from '../server/errors.js';
import { AuthzService, type ListeningAddresses } from '../server/service.js';
import { shutdownOnSignals } from '../server/signals.js';
import { createTelemetry } from '../telemetry/index.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';
import { packageVersion } from './version.js';

/** The shortest telemetry flush at shutdown, even when the drain used up server.drainTimeoutMs. */
const MIN_TELEMETRY_FLUSH_MS = 200;
/** After shutdown, how long the process may wait for stray handles before it exits anyway. */
const EXIT_GRACE_MS = 100;

const HELP = `mesh-authz serve: run the ext_authz gRPC service

Usage: mesh-authz serve --config <file> [--listen <host:port>] [--admin <host:port>]

  --config, -c   the config file (YAML); see docs/configuration.md
  --listen       override server.listen (gRPC: envoy.service.auth.v3.Authorization, grpc.health.v1.Health)
  --admin        override admin.listen (HTTP: /healthz, /readyz, /metrics)

Stops gracefully on SIGTERM/SIGINT: health turns NOT_SERVING, in-flight checks finish (up to
server.drainTimeoutMs), then the process exits 0.`;

export const serveCommand: Command = {
  summary: 'run the ext_authz gRPC service',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      config: { type: 'string', short: 'c' },
      listen: { type: 'string' },
      admin: { type: 'string' },
    });
    if (!values.config) throw new UsageError('--config is required');
    const loaded = withOverrides(loadConfigFile(values.config), values.listen, values.admin);
    const { config } = loaded;
    const drainMs = config.server.drainTimeoutMs;
    let stopRequestedAt: number | null = null;
    const telemetry = await createTelemetry(config.telemetry, {
      version: packageVersion(),
      pathNormalization: config.policy.pathNormalization,
    });
    const logger = telemetry.logger;
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
        onPolicyReload: (event) => {
          if (!event.ok) return telemetry.metrics.policyReloadFailed();
          telemetry.metrics.policyLoaded(event.generation);
          // The store swaps the new set in before it reports the reload, so `current()` is already the new set.
          reportCoverage(parts.policies.current(), config.policy, coverageSink);
        },
      });
    } catch (err) {
      return fail(`invalid identity configuration in ${loaded.file}: ${(err as Error).message}`, 2);
    }
    // Monitor mode (discovery): record every decided Check into the bounded flow table, flushed off the Check path.
    const recorder = config.discovery.enabled
      ? createFlowRecorder(config.discovery, {
          resolvePath: (p) => resolveFrom(loaded, p),
          pathNormalization: config.policy.pathNormalization,
          onError: (err) => logger.warn({ err: (err as Error).message }, 'discovery: flow flush failed'),
          otlp: { resource: telemetry.resource, account: telemetry.flowLogAccount },
        })
      : null;
    const service = new AuthzService(loaded, {
      ...parts,
      cache: createDecisionCache(config.cache),
      tracer: telemetry.tracer,
      observers: recorder ? [telemetry.observer, recorder] : [telemetry.observer],
      adminRoutes: { '/metrics': (req, res) => telemetry.metrics.handleMetrics(req, res) },
      logger,
      onClosed: async () => {
        await recorder?.close();
        // What is left of server.drainTimeoutMs since the signal (at least a short flush): a hung collector must
        // not hold a terminating pod past its drain budget.
        const spent = stopRequestedAt === null ? 0 : Date.now() - stopRequestedAt;
        await telemetry.shutdown(Math.max(MIN_TELEMETRY_FLUSH_MS, drainMs - spent));
      },
    });
    let addresses: ListeningAddresses;
    try {
      addresses = await service.start();
    } catch (err) {
      await service.shutdown('startup failed');
      if (err instanceof ServiceError) return fail(err.message, 1);
      if (err instanceof PolicyLoadError) return fail(err.message, 2);
      throw err;
    }
    const set = parts.policies.current();
    if (set) telemetry.metrics.policyLoaded(set.generation);
    const uncovered = reportCoverage(set, config.policy, coverageSink);
    if (uncovered.length > 0) {
      process.stderr.write(
        `warning: no enforced ALLOW policy covers ${uncovered.join(', ')}: they accept every request\n`,
      );
    }
    process.stderr.write(banner(loaded, addresses, service.ready()));
    // The exit code is decided by the signal handler; keep the process alive until then.
    return await new Promise<number>((resolve) => {
      shutdownOnSignals(service, {
        onSignal: (signal) => {
          stopRequestedAt ??= Date.now();
          logger.info({ signal }, 'signal received');
        },
        exit: (code) => {
          resolve(code);
          // Everything is flushed or given up on; a socket still open to a hung collector must not keep the
          // process alive (an unref'd timer fires only if something else holds the event loop).
          setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
        },
      });
    });
  },
};

function withOverrides(loaded: LoadedConfig, listen?: string, admin?: string): LoadedConfig {
  if (!listen && !admin) return loaded;
  const config: Config = {
    ...loaded.config,
    server: { ...loaded.config.server, ...(listen ? { listen } : {}) },
    admin: { ...loaded.config.admin, ...(admin ? { listen: admin } : {}) },
  };
  return { ...loaded, config };
}

/** What a newcomer needs: where it listens, whether it is ready, and commands to try. */
function banner(loaded: LoadedConfig, a: ListeningAddresses, ready: boolean): string {
  const cfg = relative(process.cwd(), loaded.file) || loaded.file;
  const scheme = a.mtls ? 'mTLS' : a.tls ? 'TLS' : 'plaintext';
  const lines = [
    '',
    `mesh-authz listening: gRPC ${a.grpc} (${scheme})${a.admin ? `, admin http://${a.admin}` : ''}`,
    `policies: ${ready ? 'loaded, SERVING' : 'none loaded yet: every check is denied UNAVAILABLE, health NOT_SERVING'}`,
    '',
    'Try it (offline, same evaluation as the server):',
    `  node dist/src/cli/main.js check --config ${cfg} --request examples/requests/allowed.json`,
    `  node dist/src/cli/main.js check --config ${cfg} --request examples/requests/denied.json`,
  ];
  if (!a.tls) {
    lines.push(
      'Against this running server (Python grpcio client used by the tests):',
      `  /usr/bin/python3 test/python/authz_client.py --target ${a.grpc} check --request examples/requests/allowed.json`,
      `  /usr/bin/python3 test/python/authz_client.py --target ${a.grpc} check --request examples/requests/denied.json`,
    );
  }
  if (a.admin) lines.push(`  curl -s http://${a.admin}/readyz`);
  lines.push('Stop with Ctrl-C (graceful drain).', '');
  return `${lines.join('\n')}\n`;
}
