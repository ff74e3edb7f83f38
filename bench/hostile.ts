import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { packageRoot } from '../src/config/paths.js';
import { checkRequestBody, GRPC_CHECK_PATH } from './frame.js';
import { openHoldingStreams, oversizedCheckBody } from './hostile-client.js';
import { memoryMb } from './proc.js';
import { percentile } from './stats.js';

/**
 * `npm run bench:hostile`: a normal caller's Check latency while hostile clients load `mesh-authz serve` (its own
 * process, default limits):
 * 1. baseline: the normal caller alone;
 * 2. 8 callers keep one ~0.6 MB CheckRequest each in flight (tens of thousands of headers; refused while decoding);
 * 3. 800 streams each announcing a 1 MiB message and sending 0.9 MiB of it (RSS before, peak, after).
 * The floor a normal caller's p99 is compared with is Envoy's default ext_authz timeout: 200 ms.
 */

const ENVOY_TIMEOUT_MS = 200;
const PHASE_MS = Number(process.env.HOSTILE_PHASE_MS ?? 5000);

const POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: orders-allow, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: ALLOW
  rules: [{ to: [{ operation: { paths: ["/allowed*"] } }] }]
`;

const NORMAL = checkRequestBody({
  attributes: {
    request: { http: { id: '1', method: 'GET', path: '/allowed/x', host: 'orders.shop', headers: { a: 'b' } } },
    contextExtensions: { namespace: 'shop', app: 'orders' },
  },
});

function post(session: http2.ClientHttp2Session, body: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': GRPC_CHECK_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('data', () => {});
    stream.on('error', () => resolve());
    stream.on('close', () => resolve());
    stream.end(body);
  });
}

/** The normal caller: one check at a time for `ms`, on its own connection; latencies in ms, sorted. */
async function normalCaller(address: string, ms: number): Promise<Float64Array> {
  const session = http2.connect(`http://${address}`);
  session.on('error', () => {});
  const out: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t0 = process.hrtime.bigint();
    await post(session, NORMAL);
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  session.destroy();
  return Float64Array.from(out).sort();
}

/** `n` callers, each keeping one `body` in flight until `stop()`. */
function bigSenders(address: string, n: number, body: Buffer): { stop: () => Promise<number> } {
  let running = true;
  let sent = 0;
  const loops: Promise<void>[] = [];
  const sessions: http2.ClientHttp2Session[] = [];
  for (let i = 0; i < n; i++) {
    const session = http2.connect(`http://${address}`);
    session.on('error', () => {});
    sessions.push(session);
    loops.push(
      (async () => {
        while (running) {
          await post(session, body);
          sent++;
        }
      })(),
    );
  }
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      for (const s of sessions) s.destroy();
      return sent;
    },
  };
}

function line(name: string, l: Float64Array): string {
  const f = (p: number) => percentile(l, p).toFixed(2);
  return `${name.padEnd(44)} n=${String(l.length).padStart(6)}  p50 ${f(0.5)} ms  p99 ${f(0.99)} ms  max ${f(1)} ms`;
}

async function startServer(dir: string): Promise<{ child: ChildProcess; address: string }> {
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'orders.yaml'), POLICY);
  const config = {
    server: { listen: '127.0.0.1:0' },
    admin: { enabled: false },
    policy: { paths: ['policies'], watch: false },
    telemetry: { log: { decisions: 'none', level: 'warn' } },
  };
  writeFileSync(join(dir, 'config.yaml'), JSON.stringify(config));
  const main = join(packageRoot(), 'dist/src/cli/main.js');
  const child = spawn(process.execPath, [main, 'serve', '--config', join(dir, 'config.yaml')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /gRPC (127\.0\.0\.1:\d+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
  return { child, address };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-hostile-'));
  const { child, address } = await startServer(dir);
  try {
    await normalCaller(address, 500);
    console.log(
      `floor: Envoy's default ext_authz timeout, ${ENVOY_TIMEOUT_MS} ms (a normal caller's p99 must stay under)`,
    );
    console.log(line('1. normal caller alone', await normalCaller(address, PHASE_MS)));

    // The 8 senders run in a worker thread: their own encoding and writing must not delay the normal caller's
    // event loop (that would be the bench measuring itself).
    const worker = new Worker(new URL(import.meta.url), { workerData: { address } });
    await new Promise((resolve) => worker.once('message', resolve));
    const during = await normalCaller(address, PHASE_MS);
    worker.postMessage('stop');
    const bigSent = await new Promise<number>((resolve) => worker.once('message', resolve));
    await worker.terminate();
    console.log(line('2. with 8 x 0.6 MB CheckRequests in flight', during));
    console.log(`   (${bigSent} oversized requests answered during the phase)`);

    const before = memoryMb(child.pid!, 'VmRSS');
    const attack = openHoldingStreams(address, {
      connections: 8,
      streamsPerConnection: 100,
      announceBytes: 1 << 20,
      sendBytes: (1 << 20) - 100 * 1024,
    });
    const holding = await normalCaller(address, PHASE_MS);
    await attack.settled;
    const peak = memoryMb(child.pid!, 'VmHWM');
    const after = memoryMb(child.pid!, 'VmRSS');
    attack.close();
    console.log(line('3. with 800 streams holding 0.9 MiB each', holding));
    console.log(
      `   server RSS: before ${before.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, after ${after.toFixed(0)} MB; ` +
        `${attack.closedByServer()} of 800 streams reset by the server`,
    );
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainThread) await main();
else {
  const senders = bigSenders((workerData as { address: string }).address, 8, oversizedCheckBody(600_000));
  parentPort!.postMessage('started');
  parentPort!.once('message', async () => parentPort!.postMessage(await senders.stop()));
}
