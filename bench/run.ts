import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/config/paths.js';
import { DEFAULT_FIXTURE, generateFixture } from './fixtures.js';
import { H2LOAD, runH2load } from './h2load.js';
import type { LoadJob, LoadResult } from './loadgen.js';
import { type ServerSide, scrapeServerSide } from './metrics-scrape.js';
import { cpuSeconds, memoryMb } from './proc.js';
import {
  DECODE_FLOOR,
  meshEntry,
  probe,
  RAW_FLOOR,
  type RunningServer,
  startFloor,
  startMesh,
  stop,
  waitReady,
} from './servers.js';
import { median, percentile } from './stats.js';

/**
 * `npm run bench`: the floor (a bare grpc-js Check server) and mesh-authz under the same load, with the cache on,
 * off, and with tracing + decision logging on; then the policy, identity and codec micro-benchmarks. Prints a table
 * and writes every figure to bench/results/<timestamp>.json. `--quick` for a smoke run; `--keep` keeps the work
 * folder; `--scenarios cache-on,tracing` picks scenarios (also `decision-log`, `cache-off`, `telemetry`,
 * `telemetry-every-deny`: the deny rate limit off, every deny traced and logged);
 * `BENCH_SERVER_NODE_ARGS` passes node flags (e.g. `--cpu-prof`) to the servers under test.
 */

/** The mesh-authz configurations measured against the floor; `--scenarios a,b` picks some (default: the first three). */
const SCENARIOS: Record<
  string,
  {
    name: string;
    cache: boolean;
    tracing: boolean;
    decisionLog: boolean;
    denyRateLimit?: boolean;
    transport?: 'grpc-js' | 'http2';
  }
> = {
  'cache-on': { name: 'mesh-authz cache on', cache: true, tracing: false, decisionLog: false, transport: 'grpc-js' },
  'http2-cache-on': {
    name: 'mesh-authz http2 transport cache on',
    cache: true,
    tracing: false,
    decisionLog: false,
    transport: 'http2',
  },
  'http2-cache-off': {
    name: 'mesh-authz http2 transport cache off',
    cache: false,
    tracing: false,
    decisionLog: false,
    transport: 'http2',
  },
  'cache-off': { name: 'mesh-authz cache off', cache: false, tracing: false, decisionLog: false, transport: 'grpc-js' },
  telemetry: { name: 'mesh-authz cache on + tracing + decision log', cache: true, tracing: true, decisionLog: true },
  'telemetry-every-deny': {
    name: 'mesh-authz cache on + tracing + decision log, no deny rate limit',
    cache: true,
    tracing: true,
    decisionLog: true,
    denyRateLimit: false,
  },
  tracing: { name: 'mesh-authz cache on + tracing', cache: true, tracing: true, decisionLog: false },
  'decision-log': { name: 'mesh-authz cache on + decision log', cache: true, tracing: false, decisionLog: true },
};
const DEFAULT_SCENARIOS = ['cache-on', 'http2-cache-on', 'cache-off', 'http2-cache-off', 'telemetry'];

interface Options {
  quick: boolean;
  scenarios: string[];
  warmupMs: number;
  durationMs: number;
  /** h2load processes, one repeat body each. */
  processes: number;
  /** Concurrent streams per h2load process. */
  streams: number;
  /** Concurrency of the fresh-request stream. */
  freshConcurrency: number;
  micro: boolean;
  /** Rounds: every server is measured once per round, in turn; figures are the medians over the rounds. */
  rounds: number;
  /** Keep the work folder (configs, server logs, decision logs) even when nothing went wrong. */
  keep: boolean;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const value = (name: string, fallback: number) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : fallback;
  };
  const list = (name: string, fallback: string[]) => {
    const i = argv.indexOf(name);
    if (i < 0 || argv[i + 1] === undefined) return fallback;
    const keys = argv[i + 1]!.split(',').filter((k) => k !== '');
    for (const k of keys) {
      if (!(k in SCENARIOS)) throw new Error(`unknown scenario ${k} (known: ${Object.keys(SCENARIOS).join(', ')})`);
    }
    return keys;
  };
  return {
    quick,
    warmupMs: value('--warmup', quick ? 1000 : 2000),
    durationMs: value('--duration', quick ? 2000 : 5000),
    processes: value('--processes', 8),
    streams: value('--streams', 4),
    freshConcurrency: value('--fresh', 2),
    micro: !argv.includes('--no-micro'),
    keep: argv.includes('--keep'),
    rounds: value('--rounds', quick ? 1 : 3),
    scenarios: list('--scenarios', DEFAULT_SCENARIOS),
  };
}

interface ServerFigures {
  readonly name: string;
  readonly requests: number;
  readonly errors: number;
  readonly allowed: number;
  readonly denied: number;
  /** Requests never seen before (cache misses by construction), and their share. */
  readonly fresh: number;
  readonly freshShare: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly cpuUsPerRequest: number;
  readonly peakRssMb: number;
  readonly rssAfterMb: number;
  /** From the server's own /metrics (mesh-authz only). */
  readonly serverSide: ServerSide | null;
}

export interface Mix {
  /** One body file per h2load process (repeats), and whether the server allowed it when probed. */
  readonly bodies: readonly { file: string; body: Buffer }[];
  readonly streamsPerBody: number;
  /** The fresh-request stream (Node generator, templates patched per request). */
  readonly freshJob: LoadJob;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Drives one server: h2load processes (one per repeat body) plus the fresh stream, all started together; reads the
 * server's CPU time at the end of the warm-up and at the end of the measured window, and its peak RSS.
 */
async function measure(
  root: string,
  server: RunningServer,
  mix: Mix,
  options: Options,
  dir: string,
  round: number,
): Promise<ServerFigures> {
  const codes: number[] = [];
  for (const b of mix.bodies) codes.push((await probe(server.port, b.body)).code);
  const warmupS = options.warmupMs / 1000;
  const durationS = options.durationMs / 1000;
  const tag = `${server.name.replace(/[^a-z0-9]+/g, '-')}-r${round}`;
  const t0 = Date.now();
  const measureFromUs = (t0 + options.warmupMs) * 1000;
  const h2 = mix.bodies.map((b, i) =>
    runH2load(
      {
        port: server.port,
        bodyFile: b.file,
        streams: mix.streamsPerBody,
        warmupS,
        durationS,
        logFile: join(dir, `${tag}-${i}.h2load.log`),
      },
      measureFromUs,
    ),
  );
  const freshJobFile = join(dir, `${tag}.fresh.json`);
  await writeFile(
    freshJobFile,
    JSON.stringify({ ...mix.freshJob, port: server.port, seed: mix.freshJob.seed + round, freshStart: round * 1e8 }),
  );
  const fresh = mix.freshJob.concurrency > 0 ? runFresh(root, freshJobFile) : Promise.resolve(null);
  await sleep(Math.max(0, t0 + options.warmupMs - Date.now()));
  const cpuStart = cpuSeconds(server.pid);
  await sleep(Math.max(0, t0 + options.warmupMs + options.durationMs - Date.now()));
  const cpuEnd = cpuSeconds(server.pid);
  const h2Results = await Promise.all(h2);
  const freshResult = await fresh;

  const latencies: number[] = [];
  let allowed = 0;
  let denied = 0;
  let errors = 0;
  h2Results.forEach((r, i) => {
    for (const l of r.latenciesUs) latencies.push(l);
    errors += r.failed;
    if (codes[i] === 0) allowed += r.succeeded;
    else denied += r.succeeded;
  });
  const freshCount = freshResult ? freshResult.requests - freshResult.errors : 0;
  if (freshResult) {
    allowed += freshResult.allowed;
    denied += freshResult.denied;
    errors += freshResult.errors;
    for (const l of freshResult.latenciesUs) latencies.push(l);
  }
  const served = latencies.length;
  const sorted = Float64Array.from(latencies).sort();
  return {
    name: server.name,
    requests: served + errors,
    errors,
    allowed,
    denied,
    fresh: freshCount,
    freshShare: served > 0 ? freshCount / served : 0,
    seconds: durationS,
    rps: served / durationS,
    p50Us: percentile(sorted, 0.5),
    p90Us: percentile(sorted, 0.9),
    p99Us: percentile(sorted, 0.99),
    cpuUsPerRequest: served > 0 ? ((cpuEnd - cpuStart) * 1e6) / served : Number.NaN,
    peakRssMb: memoryMb(server.pid, 'VmHWM'),
    rssAfterMb: memoryMb(server.pid, 'VmRSS'),
    serverSide: server.adminPort === null ? null : await scrapeServerSide(server.adminPort),
  };
}

/** The fresh stream in its own process (so it never shares an event loop with the orchestrator's timers). */
async function runFresh(root: string, jobFile: string): Promise<LoadResult & { latenciesUs: number[] }> {
  const child = spawn(process.execPath, [join(root, 'dist/bench/loadgen.js'), jobFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await new Promise((resolve) => child.once('exit', resolve));
  const m = /MEASURE_END (.*)\n/.exec(out);
  if (!m) throw new Error('fresh load generator gave no result');
  return JSON.parse(m[1]!) as LoadResult & { latenciesUs: number[] };
}

/** A stand-in OTLP/HTTP collector: accepts and drops trace exports, so tracing costs what it would in production. */
function startOtlpSink(): Promise<{ port: number; close(): void; received: () => number }> {
  let received = 0;
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({
        port: typeof a === 'object' && a ? a.port : 0,
        close: () => server.close(),
        received: () => received,
      });
    });
  });
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const pct = (n: number | undefined) => (n === undefined ? '-' : `${(n * 100).toFixed(1)}%`);

/** The median of each figure over the rounds (server-side figures are whole-run, from the last round). */
function medianFigures(rounds: readonly ServerFigures[]): ServerFigures {
  const mid = (pick: (f: ServerFigures) => number) => median(rounds.map(pick));
  const last = rounds[rounds.length - 1]!;
  return {
    ...last,
    requests: mid((f) => f.requests),
    errors: mid((f) => f.errors),
    allowed: mid((f) => f.allowed),
    denied: mid((f) => f.denied),
    fresh: mid((f) => f.fresh),
    freshShare: mid((f) => f.freshShare),
    rps: mid((f) => f.rps),
    p50Us: mid((f) => f.p50Us),
    p90Us: mid((f) => f.p90Us),
    p99Us: mid((f) => f.p99Us),
    cpuUsPerRequest: mid((f) => f.cpuUsPerRequest),
    peakRssMb: Math.max(...rounds.map((f) => f.peakRssMb)),
  };
}

interface Ratios {
  readonly rps: number;
  readonly p99: number;
  readonly cpu: number;
  /** Per round, in order. */
  readonly rounds: readonly { rps: number; p99: number; cpu: number }[];
}

/** Each server's figures over the floor's of the same round; the median of those per-round ratios. */
function ratiosPerRound(perRound: readonly { round: number; figures: ServerFigures }[]): Map<string, Ratios> {
  const out = new Map<string, Ratios>();
  const names = [...new Set(perRound.map((r) => r.figures.name))];
  const floorName = perRound[0]?.figures.name;
  for (const name of names) {
    const rounds: { rps: number; p99: number; cpu: number }[] = [];
    for (const r of perRound.filter((x) => x.figures.name === name)) {
      const floor = perRound.find((x) => x.round === r.round && x.figures.name === floorName)!.figures;
      rounds.push({
        rps: r.figures.rps / floor.rps,
        p99: r.figures.p99Us / floor.p99Us,
        cpu: r.figures.cpuUsPerRequest / floor.cpuUsPerRequest,
      });
    }
    out.set(name, {
      rps: median(rounds.map((x) => x.rps)),
      p99: median(rounds.map((x) => x.p99)),
      cpu: median(rounds.map((x) => x.cpu)),
      rounds,
    });
  }
  return out;
}

function table(rows: readonly ServerFigures[], ratios: ReadonlyMap<string, Ratios>): string {
  const head = [
    'server',
    'req/s',
    'p50 µs',
    'p99 µs',
    'CPU µs/req',
    'peak RSS MB',
    'allow/deny',
    '× floor req/s',
    '× floor p99',
    'req/s ratio per round',
  ];
  const lines = [head];
  for (const r of rows) {
    lines.push([
      r.name,
      fmt(r.rps),
      fmt(r.p50Us),
      fmt(r.p99Us),
      fmt(r.cpuUsPerRequest, 1),
      fmt(r.peakRssMb, 1),
      `${r.allowed}/${r.denied}`,
      fmt(ratios.get(r.name)?.rps ?? Number.NaN, 2),
      fmt(ratios.get(r.name)?.p99 ?? Number.NaN, 2),
      ratios
        .get(r.name)
        ?.rounds.map((x) => x.rps.toFixed(2))
        .join(' ') ?? '',
    ]);
  }
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines
    .map((l) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}

/** Runs an optional micro-benchmark module from dist/bench if it exists (it may not have landed yet). */
async function micro(root: string, file: string, fn: string): Promise<Record<string, unknown>> {
  const path = join(root, 'dist/bench', file);
  if (!existsSync(path)) return { skipped: `${file} is not on this branch yet` };
  try {
    const mod = (await import(path)) as Record<string, unknown>;
    const run = mod[fn];
    if (typeof run !== 'function') return { skipped: `${file} does not export ${fn}()` };
    return (await (run as () => Promise<Record<string, unknown>>)()) ?? {};
  } catch (err) {
    return { failed: err instanceof Error ? err.message : String(err) };
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const root = packageRoot();
  const dir = await mkdtemp(join(tmpdir(), 'mesh-authz-bench-'));
  const started = new Date();
  process.stdout.write(
    `mesh-authz bench${options.quick ? ' (quick)' : ''}: ${cpus().length} CPUs, node ${process.version}, ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
  );
  const fixtureOptions = options.quick ? { ...DEFAULT_FIXTURE, hotRequests: 500 } : DEFAULT_FIXTURE;
  const fixture = await generateFixture(dir, fixtureOptions);
  const s = fixture.summary;
  process.stdout.write(
    `load: ${s.workloads} workloads, ${s.rules} rules in ${s.policies} policies, ${s.callers} SPIFFE callers, ` +
      `${s.users} JWT users\n`,
  );
  // The repeat mix: one h2load process per body, ~3/4 of them allowed and the rest denied in different ways.
  const allowedIdx = fixture.hotAllowed.flatMap((a, i) => (a ? [i] : []));
  const deniedIdx = fixture.hotAllowed.flatMap((a, i) => (a ? [] : [i]));
  const nAllowed = Math.max(1, Math.round(options.processes * 0.75));
  const picks = [...allowedIdx.slice(0, nAllowed), ...deniedIdx.slice(0, options.processes - nAllowed)];
  const bodies = await Promise.all(
    picks.map(async (idx, i) => {
      const file = join(dir, `body-${i}.bin`);
      await writeFile(file, fixture.hot[idx]!);
      return { file, body: fixture.hot[idx]! };
    }),
  );
  await writeFile(join(dir, 'fresh.bin'), Buffer.concat(fixture.fresh.map((f) => f.body)));
  const freshJob: LoadJob = {
    port: 0,
    connections: 1,
    concurrency: options.freshConcurrency,
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
    freshRatio: 1,
    hotFile: join(dir, 'fresh.bin'),
    freshFile: join(dir, 'fresh.bin'),
    freshOffsets: fixture.fresh.map((f) => f.offsets),
    seed: 42,
  };
  const mix: Mix = { bodies, streamsPerBody: options.streams, freshJob };
  const entry = meshEntry(root).label;
  process.stdout.write(`mesh-authz entry: ${entry}\n`);
  process.stdout.write(
    `driver: ${H2LOAD}, ${options.processes} processes × 1 connection × ${options.streams} streams, each repeating ` +
      `one pre-encoded Check (${picks.length - (options.processes - nAllowed)} allowed, ` +
      `${options.processes - nAllowed} denied), plus a stream of never-seen requests (Node, ` +
      `${options.freshConcurrency} in flight); ${options.warmupMs} ms warm-up + ${options.durationMs} ms measured\n\n`,
  );

  const sink = await startOtlpSink();
  const rows: ServerFigures[] = [];
  const perRound: { round: number; figures: ServerFigures }[] = [];
  const notes: string[] = [];
  const readyBody = bodies[0]!.body;

  // Every server is started once and measured once per round, in turn (floor first in each round): a slow spell of
  // the machine then hits one round of every server instead of all rounds of one, and medians drop it.
  const servers: RunningServer[] = [];
  try {
    const floorServer = await startFloor(root, dir);
    servers.push(floorServer);
    await waitReady(floorServer, readyBody, 10_000);
    const decodeFloor = await startFloor(root, dir, true);
    servers.push(decodeFloor);
    await waitReady(decodeFloor, readyBody, 10_000);
    // The ceiling: node:http2 answering a fixed response, no gRPC library (bench/raw-floor.ts).
    const rawFloor = await startFloor(root, dir, 'raw');
    servers.push(rawFloor);
    await waitReady(rawFloor, readyBody, 10_000);
    for (const key of options.scenarios) {
      const sc = SCENARIOS[key]!;
      const file = sc.name.replace(/[^a-z0-9]+/g, '-');
      const server = { ...(await startMesh(root, fixture, sc, file, sink.port)), name: sc.name };
      try {
        await waitReady(server, readyBody, 60_000);
        servers.push(server);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        notes.push(`${sc.name}: not measured (${message}); see ${join(dir, `${file}.server.log`)}`);
        await stop(server);
      }
    }
    for (let round = 0; round < options.rounds; round++) {
      for (const server of servers)
        perRound.push({ round, figures: await measure(root, server, mix, options, dir, round) });
    }
  } finally {
    for (const server of servers) await stop(server);
  }
  for (const server of servers) {
    rows.push(medianFigures(perRound.filter((r) => r.figures.name === server.name).map((r) => r.figures)));
  }
  sink.close();

  const floor = rows[0]!;
  const roundRatios = ratiosPerRound(perRound);
  process.stdout.write(
    `medians over ${options.rounds} round${options.rounds === 1 ? '' : 's'}; × floor = median of each round's ratio\n`,
  );
  process.stdout.write(`${table(rows, roundRatios)}\n`);
  // The same servers against the proto-loader floor (what outside harnesses usually call "the grpc-js floor"), and
  // against the ceiling: how much of what node:http2 alone can do each server keeps.
  for (const floor of [DECODE_FLOOR, RAW_FLOOR]) {
    const byFloor = ratiosPerRound([
      ...perRound.filter((x) => x.figures.name === floor),
      ...perRound.filter((x) => x.figures.name !== floor),
    ]);
    for (const r of rows) {
      const x = byFloor.get(r.name);
      if (r.name === floor || x === undefined) continue;
      process.stdout.write(`× ${floor}: ${r.name} req/s ${fmt(x.rps, 2)}, p99 ${fmt(x.p99, 2)}\n`);
    }
  }
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
  for (const r of rows) {
    const ss = r.serverSide;
    if (!ss) continue;
    const hitRatio = ss.cacheHits + ss.cacheMisses > 0 ? ss.cacheHits / (ss.cacheHits + ss.cacheMisses) : 0;
    process.stdout.write(
      `${r.name}: server-side check time (pipeline, whole run): ${pct(ss.shareAtMost['0.00005'])} ≤ 50 µs, ` +
        `${pct(ss.shareAtMost['0.0001'])} ≤ 100 µs, p99 ≤ ${fmt(ss.p99AtMostUs)} µs; ` +
        `cache hit ratio ${pct(hitRatio)}; fresh share of load ${pct(r.freshShare)}\n`,
    );
  }
  process.stdout.write(`OTLP sink received ${sink.received()} export requests\n`);

  const microResults: Record<string, unknown> = {};
  if (options.micro) {
    for (const [key, file, fn] of [
      ['pipeline', 'pipeline.js', options.quick ? 'runPipelineBenchQuick' : 'runPipelineBench'],
      ['codec', 'codec.js', 'runCodecBench'],
      ['policy', 'policy.js', 'runPolicyBench'],
      ['identity', 'identity.js', 'runIdentityBench'],
      ['memory', 'memory.js', options.quick ? 'runMemoryBenchQuick' : 'runMemoryBench'],
    ] as const) {
      process.stdout.write(`\n# ${key} micro-benchmark\n`);
      const result = await micro(root, file, fn);
      microResults[key] = result;
      if ('skipped' in result || 'failed' in result) process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  }

  const resultsDir = join(root, 'bench/results');
  await mkdir(resultsDir, { recursive: true });
  const out = join(resultsDir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const ratios = Object.fromEntries([...roundRatios].filter(([name]) => name !== floor.name));
  await writeFile(
    out,
    JSON.stringify(
      {
        started: started.toISOString(),
        machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version, loadavg: loadavg() },
        options,
        entry,
        fixture: fixture.summary,
        servers: rows,
        ratios,
        rounds: perRound,
        notes,
        micro: microResults,
      },
      null,
      2,
    ),
  );
  process.stdout.write(`\nfigures written to ${out}\n`);
  // Keep the folder (configs, server logs) when something went wrong.
  if (notes.length === 0 && !options.keep) await rm(dir, { recursive: true, force: true });
  else process.stdout.write(`work folder kept: ${dir}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
