import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { GRPC_CHECK_PATH } from './frame.js';

/**
 * h2load (nghttp2-client) as the main load generator: C, so it leaves the CPU to the servers under test. It sends
 * one body per process, so the request mix is made of several processes, each with its own pre-encoded Check.
 * Latencies come from `--log-file` (one line per request: start µs since epoch, HTTP status, duration µs), keeping
 * only requests that started after the warm-up.
 */

export const H2LOAD = '/usr/bin/h2load';

export interface H2loadJob {
  readonly port: number;
  readonly bodyFile: string;
  /** Concurrent streams on the one connection (`-c 1 -m streams`). */
  readonly streams: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly logFile: string;
}

export interface H2loadResult {
  readonly succeeded: number;
  readonly failed: number;
  readonly latenciesUs: number[];
}

/** The arguments for one h2load process (exported for the harness test). */
export function h2loadArgs(job: H2loadJob): string[] {
  return [
    '-c',
    '1',
    '-m',
    String(job.streams),
    `--warm-up-time=${job.warmupS}s`,
    '-D',
    `${job.durationS}s`,
    '-d',
    job.bodyFile,
    '-H',
    'content-type: application/grpc',
    '-H',
    'te: trailers',
    `--log-file=${job.logFile}`,
    `http://127.0.0.1:${job.port}${GRPC_CHECK_PATH}`,
  ];
}

/** Parses h2load's `--log-file`: latencies (µs) of successful requests that started at or after `fromUs`. */
export function parseH2loadLog(text: string, fromUs: number): { ok: number[]; failed: number } {
  const ok: number[] = [];
  let failed = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [start, status, duration] = line.split('\t');
    if (Number(start) < fromUs) continue;
    if (status === '200') ok.push(Number(duration));
    else failed++;
  }
  return { ok, failed };
}

/** Runs one h2load process; resolves when it exits. `measureFromUs`: wall clock (µs) when measuring starts. */
export async function runH2load(job: H2loadJob, measureFromUs: number): Promise<H2loadResult> {
  const child = spawn(H2LOAD, h2loadArgs(job), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`h2load exited with ${code}: ${out.slice(-400)}`);
  const { ok, failed } = parseH2loadLog(await readFile(job.logFile, 'utf8'), measureFromUs);
  return { succeeded: ok.length, failed, latenciesUs: ok };
}
