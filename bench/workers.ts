import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/config/paths.js';
import { DEFAULT_FIXTURE, generateFixture } from './fixtures.js';
import { H2LOAD, h2loadArgs, parseH2loadLog } from './h2load.js';
import { cpuSeconds, memoryMb } from './proc.js';
import { freePort, meshEntry, probe, serverNodeArgs, writeMeshConfig } from './servers.js';
import { median, percentile } from './stats.js';

/**
 * `npm run bench:workers`: mesh-authz (10k rules, cache on, telemetry off) with `server.workers` 1 and 2 under the
 * same h2load load (several connections: the cluster hands each connection to one worker), interleaved over rounds.
 * Prints throughput, latency, and CPU per request summed over every process of the server (the primary and its
 * workers, from /proc/<pid>/stat), with the load average beside each round. The 1-worker run is the floor the
 * 2-worker run is compared with; on a shared 2-core machine the load generator takes its share of the same cores,
 * so the ratio is rough. `--quick` for a smoke run; `--rounds n`, `--connections n`, `--streams n`.
 */

interface Figures {
  workers: number;
  rps: number;
  p50Us: number;
  p99Us: number;
  errors: number;
  serverCpuUsPerRequest: number;
  /** CPU cores the server's processes used during the measured window. */
  serverCores: number;
  /** CPU cores the load generator used. */
  clientCores: number;
  peakRssMb: number;
  loadavg: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function arg(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : fallback;
}

/** The process and its descendants (a cluster primary's workers), from /proc/<pid>/stat's ppid. */
function processTree(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

function cpuOf(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += cpuSeconds(pid);
    } catch {
      // exited
    }
  }
  return sum;
}

async function startServer(root: string, configPath: string, logPath: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...serverNodeArgs(), ...meshEntry(root).argv(configPath)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OTEL_SDK_DISABLED: 'true' },
  });
  const log = createWriteStream(logPath);
  child.stdout!.pipe(log);
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      log.write(c);
      if (/mesh-authz listening/.test(err)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
  return child;
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const rounds = arg(argv, '--rounds', quick ? 1 : 3);
  const connections = arg(argv, '--connections', 4);
  const streams = arg(argv, '--streams', 16);
  const warmupS = quick ? 1 : 3;
  const durationS = quick ? 3 : 10;
  const root = packageRoot();
  const dir = await mkdtemp(join(tmpdir(), 'mesh-authz-bench-workers-'));
  process.stdout.write(
    `mesh-authz workers bench: ${cpus().length} CPUs, node ${process.version}, load average ${load()}\n` +
      `driver: ${H2LOAD}, ${connections} processes × 1 connection × ${streams} streams (3/4 allowed, 1/4 denied ` +
      `bodies), ${warmupS} s warm-up + ${durationS} s measured, ${rounds} round(s), 1 and 2 workers interleaved\n`,
  );
  const fixture = await generateFixture(dir, quick ? { ...DEFAULT_FIXTURE, hotRequests: 200 } : DEFAULT_FIXTURE);
  const allowed = fixture.hotAllowed.flatMap((a, i) => (a ? [i] : []));
  const denied = fixture.hotAllowed.flatMap((a, i) => (a ? [] : [i]));
  const nAllowed = Math.max(1, Math.round(connections * 0.75));
  const picks = [...allowed.slice(0, nAllowed), ...denied.slice(0, connections - nAllowed)];
  const bodies = await Promise.all(
    picks.map(async (idx, i) => {
      const file = join(dir, `body-${i}.bin`);
      await writeFile(file, fixture.hot[idx]!);
      return file;
    }),
  );
  const results: Figures[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const workers of [1, 2]) {
        const name = `w${workers}-r${round}`;
        const port = await freePort();
        const adminPort = await freePort();
        const scenario = { cache: true, tracing: false, decisionLog: false };
        const configPath = await writeMeshConfig(fixture, scenario, { port, adminPort, otlpPort: 1 }, name);
        const config = JSON.parse(await readFile(configPath, 'utf8')) as { server: Record<string, unknown> };
        config.server.workers = workers;
        await writeFile(configPath, JSON.stringify(config, null, 2));
        const server = await startServer(root, configPath, join(dir, `${name}.server.log`));
        try {
          const probeBody = fixture.hot[picks[0]!]!;
          for (let i = 0; i < 4; i++) await probe(port, probeBody, 10_000);
          const pids = processTree(server.pid!);
          const t0 = Date.now();
          const h2 = bodies.map((bodyFile, i) => {
            const logFile = join(dir, `${name}-${i}.h2load.log`);
            const child = spawn(
              H2LOAD,
              h2loadArgs({
                port,
                bodyFile,
                streams,
                warmupS,
                durationS,
                logFile: join(dir, `${name}-${i}.h2load.log`),
              }),
              { stdio: 'ignore' },
            );
            return { child, logFile, exit: new Promise((resolve) => child.once('exit', resolve)) };
          });
          await sleep(Math.max(0, t0 + warmupS * 1000 - Date.now()));
          const clientPids = h2.map((h) => h.child.pid!);
          const perProcessStart = pids.map((pid) => cpuOf([pid]));
          const serverStart = cpuOf(pids);
          const clientStart = cpuOf(clientPids);
          await sleep(Math.max(0, t0 + (warmupS + durationS) * 1000 - Date.now()));
          const serverEnd = cpuOf(pids);
          // How the work split: the primary (first) should only accept connections; the workers share the rest.
          const split = pids.map((pid, i) => (cpuOf([pid]) - perProcessStart[i]!).toFixed(2)).join(' / ');
          const clientEnd = cpuOf(clientPids);
          const avg = load();
          await Promise.all(h2.map((h) => h.exit));
          const latencies: number[] = [];
          let errors = 0;
          for (const h of h2) {
            const parsed = parseH2loadLog(await readFile(h.logFile, 'utf8'), (t0 + warmupS * 1000) * 1000);
            for (const l of parsed.ok) latencies.push(l);
            errors += parsed.failed;
          }
          const sorted = Float64Array.from(latencies).sort();
          const figures: Figures = {
            workers,
            rps: latencies.length / durationS,
            p50Us: percentile(sorted, 0.5),
            p99Us: percentile(sorted, 0.99),
            errors,
            serverCpuUsPerRequest: latencies.length > 0 ? ((serverEnd - serverStart) * 1e6) / latencies.length : NaN,
            serverCores: (serverEnd - serverStart) / durationS,
            clientCores: (clientEnd - clientStart) / durationS,
            peakRssMb: pids.reduce((sum, pid) => sum + (memoryMb(pid, 'VmHWM') || 0), 0),
            loadavg: avg,
          };
          results.push(figures);
          process.stdout.write(
            `round ${round}, ${workers} worker${workers > 1 ? 's' : ' '}: ${figures.rps.toFixed(0)} req/s, ` +
              `p50 ${(figures.p50Us / 1000).toFixed(2)} ms, p99 ${(figures.p99Us / 1000).toFixed(2)} ms, ` +
              `server CPU ${figures.serverCpuUsPerRequest.toFixed(1)} µs/req (${figures.serverCores.toFixed(2)} cores, ` +
              `${pids.length} processes: ${split} CPU s, peak RSS ${figures.peakRssMb.toFixed(0)} MB), h2load ` +
              `${figures.clientCores.toFixed(2)} cores, errors ${errors}; load average ${avg}\n`,
          );
        } finally {
          await stopServer(server);
        }
      }
    }
  } finally {
    if (!argv.includes('--keep')) await rm(dir, { recursive: true, force: true });
  }
  const med = (workers: number, key: 'rps' | 'serverCpuUsPerRequest' | 'p99Us' | 'serverCores') =>
    median(results.filter((r) => r.workers === workers).map((r) => r[key]));
  process.stdout.write(
    `\nmedians: 1 worker ${med(1, 'rps').toFixed(0)} req/s, ${med(1, 'serverCpuUsPerRequest').toFixed(1)} µs CPU/req, ` +
      `${med(1, 'serverCores').toFixed(2)} cores; 2 workers ${med(2, 'rps').toFixed(0)} req/s, ` +
      `${med(2, 'serverCpuUsPerRequest').toFixed(1)} µs CPU/req, ${med(2, 'serverCores').toFixed(2)} cores\n` +
      `2 workers / 1 worker: throughput ×${(med(2, 'rps') / med(1, 'rps')).toFixed(2)}, CPU per request ×` +
      `${(med(2, 'serverCpuUsPerRequest') / med(1, 'serverCpuUsPerRequest')).toFixed(2)}, p99 ×` +
      `${(med(2, 'p99Us') / med(1, 'p99Us')).toFixed(2)}; load average now ${load()}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:workers failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
