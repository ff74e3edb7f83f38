import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { CheckPipeline } from '../authz/pipeline.js';
import type { CheckTracer, DecisionCache, DecisionObserver, IdentitySource, PolicySource } from '../authz/seams.js';
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
  readonly cache?: DecisionCache | null;
  readonly tracer?: CheckTracer;
  readonly observers?: readonly DecisionObserver[];
  /** Extra admin routes, e.g. `{ '/metrics': handler }`. */
  readonly adminRoutes?: Readonly<Record<string, AdminHandler>>;
  readonly logger?: ServiceLogger;
  /** Called once everything is closed (telemetry flushes here). */
  readonly onClosed?: () => void | Promise<void>;
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
  private closed: Promise<void> | null = null;

  constructor(
    private readonly loaded: LoadedConfig,
    private readonly parts: ServiceParts,
  ) {
    const { server } = loaded.config;
    this.log = parts.logger ?? SILENT_LOGGER;
    this.pipeline = createPipeline(loaded, parts, {
      cache: parts.cache,
      tracer: parts.tracer,
      observers: parts.observers,
    });
    this.server = createAuthzServer({
      pipeline: this.pipeline,
      health: this.health,
      maxMessageBytes: server.maxMessageBytes,
    });
    this.credentials = server.tls
      ? new ReloadingServerCredentials(
          {
            cert: resolveFrom(loaded, server.tls.cert),
            key: resolveFrom(loaded, server.tls.key),
            clientCa: server.tls.clientCa ? resolveFrom(loaded, server.tls.clientCa) : undefined,
            requireClientCert: server.tls.requireClientCert,
          },
          {
            onReload: (fingerprint) => this.log.info({ fingerprint }, 'TLS certificate reloaded'),
            onReloadError: (err) => this.log.warn({ err: err.message }, 'TLS files changed but are not usable yet'),
          },
        )
      : null;
    const { admin } = loaded.config;
    this.admin = admin.enabled ? new AdminServer({ ready: () => this.ready(), routes: parts.adminRoutes }) : null;
  }

  /** True when checks can be decided: a policy set is loaded and we are not draining. */
  ready(): boolean {
    return !this.draining && this.parts.policies.current() !== null;
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
   * Graceful shutdown: NOT_SERVING at once (health watchers are told), stop taking new connections, let
   * in-flight checks finish, force-close after `drainTimeoutMs`. Idempotent; resolves when everything is closed.
   */
  shutdown(reason = 'shutdown'): Promise<void> {
    this.closed ??= this.doShutdown(reason);
    return this.closed;
  }

  private async doShutdown(reason: string): Promise<void> {
    this.draining = true;
    this.refreshHealth();
    this.log.info({ reason, inFlight: this.server.inFlight() }, 'draining');
    if (this.readinessTimer) clearInterval(this.readinessTimer);
    this.server.closeWatches();
    await this.closeGrpc(this.loaded.config.server.drainTimeoutMs);
    this.credentials?.close();
    await this.admin?.close();
    await Promise.allSettled([this.parts.policies.close(), this.parts.identity.close()]);
    await this.parts.onClosed?.();
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

  /** tryShutdown lets open streams finish; forceShutdown after `timeoutMs` cancels whatever is left. */
  private closeGrpc(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ inFlight: this.server.inFlight() }, 'drain timeout: closing with checks still in flight');
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

/** Splits `host:port` / `[v6]:port`. */
export function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(listen.slice(i + 1)) };
}

function formatAddress(a: AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
