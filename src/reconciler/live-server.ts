import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LiveReconciler } from './live.js';

/**
 * The live reconciler's own health and metrics endpoint: `/healthz` (the process is up), `/readyz` (a full pass
 * succeeded since start), `/metrics` (Prometheus text).
 */
export async function startHealthServer(
  reconciler: LiveReconciler,
  host: string,
  port: number,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = reconciler.ready;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not synced yet\n');
    } else if (path === '/metrics') {
      reconciler.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': reconciler.metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
