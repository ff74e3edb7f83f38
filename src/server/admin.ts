import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServiceError } from './errors.js';

/**
 * The admin HTTP listener: `/healthz` (the process is alive), `/readyz` (a policy set is loaded and we are not
 * draining: Kubernetes should route checks here), and extra routes other parts mount (telemetry's `/metrics`).
 * Bind it to loopback or a pod-internal address: it is unauthenticated by design, and serves no decisions.
 */

export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface AdminOptions {
  /** Whether the service is ready to serve checks. */
  readonly ready: () => boolean;
  /** Extra routes by exact path, e.g. `{ '/metrics': handler }`. */
  readonly routes?: Readonly<Record<string, AdminHandler>>;
}

export class AdminServer {
  private readonly server: Server;
  private readonly routes = new Map<string, AdminHandler>();

  constructor(private readonly options: AdminOptions) {
    for (const [path, handler] of Object.entries(options.routes ?? {})) this.routes.set(path, handler);
    this.server = createServer((req, res) => this.handle(req, res));
    // Admin clients are probes and scrapers: short timeouts keep a slow client from holding sockets.
    this.server.requestTimeout = 10_000;
    this.server.headersTimeout = 5_000;
  }

  /** Mounts a route (replacing any at the same path). */
  route(path: string, handler: AdminHandler): void {
    this.routes.set(path, handler);
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.server.off('listening', onListening);
        reject(
          new ServiceError(
            err.code === 'EADDRINUSE' ? 'port_in_use' : 'admin_bind_failed',
            err.code === 'EADDRINUSE'
              ? `admin listener: ${host}:${port} is already in use by another process (change admin.listen, or set admin.enabled: false)`
              : `admin listener: cannot listen on ${host}:${port}: ${err.message}`,
            { cause: err },
          ),
        );
      };
      const onListening = () => {
        this.server.off('error', onError);
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(port, host);
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    if (path === '/healthz') {
      send(res, 200, 'ok\n');
      return;
    }
    if (path === '/readyz') {
      const ready = this.options.ready();
      send(res, ready ? 200 : 503, ready ? 'ready\n' : 'not ready\n');
      return;
    }
    const handler = this.routes.get(path);
    if (!handler) {
      send(res, 404, 'not found\n');
      return;
    }
    Promise.resolve()
      .then(() => handler(req, res))
      .catch(() => {
        if (!res.headersSent) send(res, 500, 'internal error\n');
        else res.destroy();
      });
  }
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
}
