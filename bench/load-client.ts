/**
 * Load generator for bench/telemetry.ts, run as a separate process so its CPU is not billed to the server:
 * sends `count` Checks with `concurrency` in flight to `target`, 90% allowed and 10% denied paths, each with its
 * own unsampled W3C trace context (as Envoy sends when the trace is not sampled), then prints the count.
 *
 * Usage: node dist/bench/load-client.js <host:port> <count> <concurrency>
 */
import * as grpc from '@grpc/grpc-js';
import { authorizationServiceDefinition } from '../src/authz/server.js';
import type { WireCheckRequest, WireCheckResponse } from '../src/authz/wire.js';

const [target = '127.0.0.1:9191', countArg = '20000', concurrencyArg = '64'] = process.argv.slice(2);
const count = Number(countArg);
const concurrency = Number(concurrencyArg);

function hex(bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++)
    s += Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0');
  return s;
}

function request(i: number): WireCheckRequest {
  const path = i % 10 < 9 ? `/orders/${i % 1000}` : `/admin/${i % 1000}`;
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: '10.0.0.7', portValue: 41000 } },
        principal: 'spiffe://cluster.local/ns/shop/sa/frontend',
      },
      contextExtensions: { namespace: 'shop', app: 'orders' },
      request: {
        http: {
          method: 'GET',
          path,
          host: 'orders.shop.svc',
          headers: {
            ':method': 'GET',
            ':path': path,
            'x-request-id': `req-${i}`,
            traceparent: `00-${hex(16)}-${hex(8)}-00`,
            'user-agent': 'bench',
          },
        },
      },
    },
  };
}

const Client = grpc.makeGenericClientConstructor(authorizationServiceDefinition, 'Authorization');
const client = new Client(target, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
  Check(req: WireCheckRequest, cb: (e: grpc.ServiceError | null, r?: WireCheckResponse) => void): void;
};
const requests = Array.from({ length: 2000 }, (_, i) => request(i));

let sent = 0;
let done = 0;
let failed = 0;
await new Promise<void>((resolve) => {
  const next = (): void => {
    if (sent >= count) {
      if (done >= count) resolve();
      return;
    }
    const req = requests[sent % requests.length]!;
    sent++;
    client.Check(req, (err) => {
      if (err) failed++;
      done++;
      next();
    });
  };
  for (let i = 0; i < concurrency; i++) next();
});
client.close();
process.stdout.write(`${JSON.stringify({ done, failed })}\n`);
