/**
 * Load generator for bench/telemetry.ts, run as a separate process so its CPU is not billed to the server:
 * sends `count` Checks with `concurrency` in flight to `target`, 90% allowed and 10% denied paths, each with its
 * own unsampled W3C trace context (as Envoy sends when the trace is not sampled), then prints the count.
 *
 * Usage: node dist/bench/load-client.js <host:port> <count> <concurrency>
 */
import * as grpc from '@grpc/grpc-js';
import type { WireCheckRequest, WireCheckResponse } from '../src/authz/wire-types.js';
import { authorizationServiceDefinition } from '../src/server/server.js';
import { traceRequest } from './trace-requests.js';

const [target = '127.0.0.1:9191', countArg = '20000', concurrencyArg = '64'] = process.argv.slice(2);
const count = Number(countArg);
const concurrency = Number(concurrencyArg);

const Client = grpc.makeGenericClientConstructor(authorizationServiceDefinition, 'Authorization');
const client = new Client(target, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
  Check(req: WireCheckRequest, cb: (e: grpc.ServiceError | null, r?: WireCheckResponse) => void): void;
};
const requests = Array.from({ length: 2000 }, (_, i) => traceRequest(i, i % 1000));

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
