import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { CheckPipeline } from '../authz/pipeline.js';
import type { CheckTracer, DecisionCache, DecisionObserver, IdentitySource, PolicySource } from '../authz/seams.js';
import type { WorkloadRegistry } from '../authz/workloads.js';
import type { LoadedConfig } from '../config/load.js';
import { resolveFrom } from '../config/load.js';
import { type AdminHandler, AdminServer } from './admin.js';
import { createPipeline } from './assemble.js';
import { ServiceError } from './errors.js';
import { HealthState } from './health.js';
import { type ServiceLogger, SILENT_LOGGER } from './logger.js';
import { type AuthzServer, createAuthzServer } from './server.js';
import { ReloadingServerCredentials } from './tls.js';

/**
 * The service's lifecycle: build the pipeline from a LoadedConfig and its parts, start the gRPC and admin
 * listeners, follow the policy source for readiness, and on shutdown report NOT_SERVING, let in-flight checks
 * finish (bounded by `server.drainTimeoutMs`) and close.
 */

export { type ServiceLogger, SILENT_LOGGER } from './logger.js';

export interface ServiceParts {
  readonly policies: PolicySource;
  readonly identity: IdentitySource;
  /** Destination workload lookup (config file or Kubernetes Pods); none by default. */
  readonly registry?: WorkloadRegistry;
  readonly cache?: DecisionCache | null;
  readonly tracer?: CheckTracer;
  readonly observers?: readonly DecisionObserver[];
  /** Extra admin routes, e.g. `{ '/metrics': handler }`. */
  readonly adminRoutes?: Readonly<Record<string, AdminHandler>>;
  readonly logger?: ServiceLogger;
  /** Details shown by `/readyz` (e.g. a source serving a stale snapshot); they do not change readiness. */
  readonly readiness?: () => readonly string[];
  /** Called once everything is closed (telemetry flushes here). */
  readonly onClosed?: () => void | Promise<void>;
  /**
   * A cluster worker starts held: NOT_SERVING, although it answers checks, until {@link AuthzService.release}
   * (the primary releases every worker once all of them have started: health never says SERVING for a part).
   */
  readonly held?: boolean;
}

export interface ListeningAddresses {
  /** `host:port` of the gRPC listener. */
  readonly grpc: string;
  readonly tls: boolean;
  readonly mtls: boolean;
  /** `host:port` of the admin listener, or null when disabled. */
  readonly admin: string | null;
}

/** How often readiness follows the policy source (a source that loads later flips health to SERVING). */
const READINESS_POLL_MS = 500;
/** How often TLS files are checked for rotation. */
const TLS_POLL_MS = 2_000;

export class AuthzService {
  readonly health = new HealthState();
  readonly pipeline: CheckPipeline;
  private readonly server: AuthzServer;
  private readonly admin: AdminServer | null;
  private readonly credentials: ReloadingServerCredentials | null;
  private readonly log: ServiceLogger;
  private readinessTimer: NodeJS.Timeout | null = null;
  private draining = false;
  private held: boolean;
  private closed: Promise<void> | null = null;

  constructor(
    private readonly loaded: LoadedConfig,
    private readonly parts: ServiceParts,
  ) {
    const { server } = loaded.config;
    this.log = parts.logger ?? SILENT_LOGGER;
    this.held = parts.held === true;
    this.pipeline = createPipeline(loaded, parts, {
      cache: parts.cache,
      tracer: parts.tracer,
      observers: parts.observers,
    });
    this.server = createAuthzServer({
      pipeline: this.pipeline,
      health: this.health,
      maxMessageBytes: server.maxMessageBytes,
      decodeLimits: {
        maxPathBytes: server.maxPathBytes,
        maxHeaderBytes: server.maxHeaderBytes,
        maxHeaders: server.maxHeaders,
        maxLabels: server.maxLabels,
      },
      bufferLimits: {
        maxBufferedBytesPerConnection: server.maxBufferedBytesPerConnection,
        maxBufferedBytes: server.maxBufferedBytes,
        messageTimeoutMs: server.messageTimeoutMs,
        prefaceTimeoutMs: server.prefaceTimeoutMs,
      },
      connection: {
        maxConcurrentStreams: server.maxConcurrentStreams,
        keepaliveTimeMs: server.keepaliveTimeMs,
        keepaliveTimeoutMs: server.keepaliveTimeoutMs,
        maxSessionMemoryMb: server.maxSessionMemoryMb,
      },
      responseDetail: loaded.config.response.detail,
    });
    this.credentials = server.tls
      ? new ReloadingServerCredentials(
          {
            cert: resolveFrom(loaded, server.tls.cert),
            key: resolveFrom(loaded, server.tls.key),
            clientCa: server.tls.clientCa ? resolveFrom(loaded, server.tls.clientCa) : undefined,
            requireClientCert: server.tls.requireClientCert,
            handshakeTimeoutMs: server.tlsHandshakeTimeoutMs,
          },
          {
            onReload: (fingerprint) => this.log.info({ fingerprint }, 'TLS certificate reloaded'),
            onReloadError: (err) => this.log.warn({ err: err.message }, 'TLS files changed but are not usable yet'),
          },
        )
      : null;
    const { admin } = loaded.config;
    this.admin = admin.enabled
      ? new AdminServer({
          ready: () => this.ready(),
          routes: parts.adminRoutes,
          ...(parts.readiness ? { detail: parts.readiness } : {}),
        })
      : null;
  }

  /** True when checks can be decided (a policy set is loaded and we are not draining) and we are not held. */
  ready(): boolean {
    return !this.held && this.localReady();
  }

  /** This process's own readiness, whether held or not (what a cluster worker reports to its primary). */
  localReady(): boolean {
    return !this.draining && this.parts.policies.current() !== null;
  }

  /** Ends the hold of a cluster worker: health follows this process's own readiness from now on. */
  release(): void {
    this.held = false;
    this.refreshHealth();
  }

  /**
   * Loads the first policy set and starts the listeners. Rejects with the policy source's error (invalid policy)
   * or a {@link ServiceError} (port in use, TLS files) with a clear message.
   */
  async start(): Promise<ListeningAddresses> {
    const { server, admin } = this.loaded.config;
    // An initial policy set that does not load stops startup (the caller prints its file:line issues): serving
    // with nothing loaded would only deny everything. Until start() returns, health is NOT_SERVING.
    await this.parts.policies.start();
    this.refreshHealth();
    this.readinessTimer = setInterval(() => this.refreshHealth(), READINESS_POLL_MS);
    this.readinessTimer.unref();

    const grpcAddress = await this.bindGrpc(server.listen);
    if (this.credentials && server.tls?.watch) this.credentials.watch(TLS_POLL_MS);
    let adminAddress: string | null = null;
    if (this.admin) {
      const { host, port } = splitHostPort(admin.listen);
      try {
        adminAddress = formatAddress(await this.admin.listen(host, port));
      } catch (err) {
        await this.closeGrpc(0);
        throw err;
      }
    }
    const addresses: ListeningAddresses = {
      grpc: grpcAddress,
      tls: this.credentials !== null,
      mtls: server.tls?.clientCa !== undefined,
      admin: adminAddress,
    };
    this.log.info({ ...addresses, ready: this.ready() }, 'mesh-authz listening');
    return addresses;
  }

  /** Checks received and not yet answered. */
  inFlight(): number {
    return this.server.inFlight();
  }

  /**
   * Graceful shutdown. NOT_SERVING at once (health watchers are told, /readyz answers 503). With `grace` (SIGTERM:
   * Kubernetes keeps routing to a terminating pod until the endpoint removal has propagated, and Envoy turns a
   * refused connection into a deny), connections are still accepted and checks answered for
   * `server.shutdownGraceMs`. Then new connections are refused, in-flight checks finish, and whatever is left is
   * force-closed: listeners, sources and telemetry flushes together are bounded by `drainTimeoutMs`, so a hung
   * trace exporter cannot stretch the exit. Idempotent; resolves when everything is closed or abandoned.
   */
  shutdown(reason = 'shutdown', options: { grace?: boolean } = {}): Promise<void> {
    this.closed ??= this.doShutdown(reason, options.grace === true);
    return this.closed;
  }

  private async doShutdown(reason: string, grace: boolean): Promise<void> {
    const { shutdownGraceMs, drainTimeoutMs } = this.loaded.config.server;
    this.draining = true;
    this.refreshHealth();
    if (this.readinessTimer) clearInterval(this.readinessTimer);
    if (grace && shutdownGraceMs > 0) {
      this.log.info(
        { reason, graceMs: shutdownGraceMs, inFlight: this.server.inFlight() },
        'shutting down: NOT_SERVING, still answering checks during the grace period',
      );
      await delay(shutdownGraceMs);
    }
    const deadline = Date.now() + drainTimeoutMs;
    this.log.info({ reason, inFlight: this.server.inFlight() }, 'draining');
    this.server.closeWatches();
    await this.closeGrpc(drainTimeoutMs);
    this.credentials?.close();
    const rest = (async () => {
      await this.admin?.close();
      await Promise.allSettled([this.parts.policies.close(), this.parts.identity.close()]);
      await this.parts.onClosed?.();
    })();
    const closedInTime = await settlesWithin(rest, deadline - Date.now());
    if (!closedInTime) {
      this.log.warn({ reason, drainTimeoutMs }, 'drain timeout: telemetry or sources did not close; exiting anyway');
    }
    this.log.info({ reason }, 'stopped');
  }

  private refreshHealth(): void {
    this.health.set(this.ready() ? 'SERVING' : 'NOT_SERVING');
  }

  private bindGrpc(listen: string): Promise<string> {
    const credentials = this.credentials ?? grpc.ServerCredentials.createInsecure();
    return new Promise((resolve, reject) => {
      this.server.grpc.bindAsync(listen, credentials, (err, port) => {
        if (err) {
          const inUse = /EADDRINUSE/.test(err.message);
          reject(
            new ServiceError(
              inUse ? 'port_in_use' : 'bind_failed',
              inUse
                ? `cannot listen on ${listen}: the port is already in use by another process (stop it, or change server.listen in ${this.loaded.file})`
                : `cannot listen on ${listen}: ${err.message}`,
              { cause: err },
            ),
          );
          return;
        }
        resolve(`${listen.slice(0, listen.lastIndexOf(':'))}:${port}`);
      });
    });
  }

  /** Streams the connection guard reset so far, by reason (zeros when no buffer limits are set). */
  streamResets(): { connection_cap: number; total_cap: number; message_timeout: number; no_preface: number } {
    const c = this.server.guard?.counters;
    return {
      connection_cap: c?.resetForConnectionCap ?? 0,
      total_cap: c?.resetForTotalCap ?? 0,
      message_timeout: c?.resetForTimeout ?? 0,
      no_preface: c?.closedForSilence ?? 0,
    };
  }

  /** tryShutdown lets open streams finish; forceShutdown after `timeoutMs` cancels whatever is left. */
  private closeGrpc(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // Checks being decided (counted by the Check handler), and streams still open (unfinished messages,
        // calls not yet handed to a handler): only the former are checks.
        const inFlight = this.server.inFlight();
        const openStreams = this.server.guard?.openStreams ?? null;
        this.log.warn(
          { inFlight, openStreams },
          inFlight > 0
            ? `drain timeout: closing with ${inFlight} check${inFlight === 1 ? '' : 's'} still in flight`
            : 'drain timeout: no check in flight; closing the connections still open',
        );
        this.server.grpc.forceShutdown();
        resolve();
      }, timeoutMs);
      this.server.grpc.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `work` settles within `ms` (it is left running otherwise; a rejection counts as settled). */
function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, ms));
    timer.unref();
    work.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}

/** Splits `host:port` / `[v6]:port`. */
export function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(listen.slice(i + 1)) };
}

function formatAddress(a: AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
