import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuiltCli, CliRun } from './built-cli.js';
import { runCli } from './built-cli.js';

/** An ALLOW policy for shop/orders on `/allowed*` and `/api/*` (what `httpCheck` sends), as a real file. */
export const ORDERS_POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: orders-allow
  namespace: shop
spec:
  selector:
    matchLabels:
      app: orders
  action: ALLOW
  rules:
    - to:
        - operation:
            paths: ["/allowed*", "/api/*"]
`;

export interface ServeProcess {
  readonly run: CliRun;
  readonly pid: number;
  readonly grpc: string;
  readonly admin: string;
}

/**
 * `mesh-authz serve` as its own process (signals, RSS and exit are the process's own), on ephemeral loopback
 * ports, with `server` settings merged into a config written to `dir`.
 */
export async function startServeProcess(
  cli: BuiltCli,
  dir: string,
  server: Record<string, unknown> = {},
  sections: Record<string, unknown> = {},
): Promise<ServeProcess> {
  mkdirSync(join(dir, 'policies'), { recursive: true });
  writeFileSync(join(dir, 'policies', 'orders.yaml'), ORDERS_POLICY);
  const config = {
    server: { listen: '127.0.0.1:0', ...server },
    admin: { listen: '127.0.0.1:0' },
    policy: { paths: ['policies'], watch: false },
    telemetry: { log: { decisions: 'none' } },
    ...sections,
  };
  const file = join(dir, 'config.yaml');
  writeFileSync(file, JSON.stringify(config));
  const run = runCli(cli, ['serve', '--config', file]);
  const [, grpc] = await run.waitForOutput(/mesh-authz listening: gRPC (127\.0\.0\.1:\d+)/);
  const [, admin] = await run.waitForOutput(/admin http:\/\/(127\.0\.0\.1:\d+)/);
  return { run, pid: run.child.pid!, grpc: grpc!, admin: admin! };
}
