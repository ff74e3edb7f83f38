import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { pathToFileURL } from 'node:url';
import { GRPC_CHECK_PATH } from './frame.js';
import { percentile } from './stats.js';

/**
 * The load generator (its own process, so it never shares an event loop with what it measures): closed loop at a
 * fixed concurrency over a few HTTP/2 connections, sending pre-encoded gRPC CheckRequest bodies. Each request is,
 * with probability `freshRatio`, a never-seen one (a template with a counter patched into its path, same length so
 * no protobuf length changes); otherwise a repeat drawn from the fixed set of recent requests.
 * Per-request work is a buffer pick (or one copy + 10 digit writes), so the generator stays cheap.
 *
 * Protocol: argv[2] is a job JSON file. Prints `MEASURE_START` after the warm-up and `MEASURE_END <json>` at the end.
 */

export interface LoadJob {
  readonly port: number;
  readonly connections: number;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly freshRatio: number;
  /** File of concatenated framed bodies: the initial ring of recent requests. */
  readonly hotFile: string;
  /** File of concatenated framed templates, and each template's placeholder offsets. */
  readonly freshFile: string;
  readonly freshOffsets: readonly (readonly number[])[];
  readonly seed: number;
  /** First value of the fresh counter (each round of a run starts elsewhere, so its fresh requests are new). */
  readonly freshStart?: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  /** CheckResponses whose status was OK (allowed), and others (denied). */
  readonly allowed: number;
  readonly denied: number;
  readonly fresh: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** Every measured latency, for merging with other drivers' figures. */
  readonly latenciesUs: readonly number[];
}

/** Splits concatenated gRPC frames, keeping each frame's 5-byte prefix (ready to send). */
export function splitFramed(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 5 <= data.byteLength) {
    const length = data.readUInt32BE(at + 1);
    out.push(data.subarray(at, at + 5 + length));
    at += 5 + length;
  }
  if (at !== data.byteLength) throw new Error('trailing bytes after the last gRPC frame');
  return out;
}

/** Writes `n` as 10 zero-padded ASCII digits at each offset (the fresh-request placeholder). */
export function patchCounter(template: Buffer, offsets: readonly number[], n: number): Buffer {
  const body = Buffer.from(template);
  const digits = String(n % 1e10).padStart(10, '0');
  for (const offset of offsets) body.write(digits, offset, 'latin1');
  return body;
}

/**
 * The CheckResponse status code, read straight from the bytes: field 1 (google.rpc.Status) is written first by
 * both servers, and its field 1 is the code (absent when 0).
 */
export function responseCode(frame: Buffer): number {
  if (frame.byteLength < 7 || frame[5] !== 0x0a) return -1;
  const length = frame[6]!;
  if (length === 0 || frame[7] !== 0x08) return 0;
  return frame[8]!;
}

export async function runLoad(job: LoadJob, onMeasureStart: () => void = () => {}): Promise<LoadResult> {
  const ring = splitFramed(readFileSync(job.hotFile));
  const templates = splitFramed(readFileSync(job.freshFile));
  let seed = job.seed >>> 0;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const sessions = await Promise.all(
    Array.from(
      { length: job.connections },
      () =>
        new Promise<http2.ClientHttp2Session>((resolve, reject) => {
          const s = http2.connect(`http://127.0.0.1:${job.port}`);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
    ),
  );

  let measuring = false;
  let stopping = false;
  const latencies: number[] = [];
  let freshCounter = job.freshStart ?? 0;
  const counts = { requests: 0, errors: 0, allowed: 0, denied: 0, fresh: 0 };

  const next = (): { body: Buffer; fresh: boolean } => {
    if (templates.length > 0 && rand() < job.freshRatio) {
      const t = freshCounter % templates.length;
      return { body: patchCounter(templates[t]!, job.freshOffsets[t]!, freshCounter++), fresh: true };
    }
    return { body: ring[Math.floor(rand() * ring.length)]!, fresh: false };
  };

  const one = (session: http2.ClientHttp2Session): Promise<void> =>
    new Promise((resolve) => {
      const { body, fresh } = next();
      const started = process.hrtime.bigint();
      const stream = session.request({
        ':method': 'POST',
        ':path': GRPC_CHECK_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const chunks: Buffer[] = [];
      let grpcStatus = '';
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('trailers', (t) => {
        grpcStatus = String(t['grpc-status'] ?? '');
      });
      stream.on('error', () => {});
      stream.on('close', () => {
        if (measuring) {
          const us = Number(process.hrtime.bigint() - started) / 1000;
          counts.requests++;
          if (grpcStatus !== '0') counts.errors++;
          else {
            latencies.push(us);
            if (fresh) counts.fresh++;
            if (responseCode(Buffer.concat(chunks)) === 0) counts.allowed++;
            else counts.denied++;
          }
        }
        resolve();
      });
      stream.end(body);
    });

  const worker = async (w: number) => {
    const session = sessions[w % sessions.length]!;
    while (!stopping) await one(session);
  };
  const workers = Array.from({ length: job.concurrency }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, job.warmupMs));
  measuring = true;
  onMeasureStart();
  const start = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, job.durationMs));
  measuring = false;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  stopping = true;
  await Promise.all(workers);
  for (const s of sessions) s.close();

  const sorted = Float64Array.from(latencies).sort();
  return {
    ...counts,
    seconds,
    rps: (counts.requests - counts.errors) / seconds,
    p50Us: percentile(sorted, 0.5),
    p90Us: percentile(sorted, 0.9),
    p99Us: percentile(sorted, 0.99),
    maxUs: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    latenciesUs: latencies,
  };
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadJob;
  const result = await runLoad(job, () => process.stdout.write('MEASURE_START\n'));
  process.stdout.write(`MEASURE_END ${JSON.stringify(result)}\n`);
  process.exit(0);
}
