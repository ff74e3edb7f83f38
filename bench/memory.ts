import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_FIXTURE, generateFixture, TRUST_DOMAIN } from './fixtures.js';
import { memoryMb } from './proc.js';

/**
 * The memory scenario of `npm run bench`: each figure from a fresh child process (`node --expose-gc`), so one
 * measurement's garbage and high-water mark never leak into the next. Live heap is `heapUsed` after a full GC;
 * RSS is VmRSS at that moment (peak = VmHWM). Targets (issue 18): ≤ 130 MB RSS right after loading 10k rules,
 * ≤ 2 KB per added rule between 10k and 50k, ≤ 200 MB peak through load with the cache on and off, and a flat
 * live heap across a million checks.
 */

export interface MemoryFigures {
  readonly rules: number;
  readonly loadMs: number;
  readonly rssMb: number;
  readonly heapMb: number;
  readonly peakRssMb: number;
  /** One file changed, then reloaded: its duration and the longest event-loop pause during it. */
  readonly reload: { readonly ms: number; readonly maxPauseMs: number; readonly maxBusyCpuMs: number };
  /**
   * Every file changed, then reloaded (the whole set parsed and compiled again), and the floor: the longest pause
   * of an idle event loop watched for as long, in the same process (what the shared machine alone costs).
   */
  readonly fullReload: {
    readonly ms: number;
    readonly maxPauseMs: number;
    /** The most CPU time the process used within one event-loop turn during the reload (see busiestTurn). */
    readonly maxBusyCpuMs: number;
    readonly idleMaxPauseMs: number;
  };
  /** CPU time of the initial load (less sensitive to other processes than wall time). */
  readonly loadCpuMs: number;
  /** From the start of the load until every policy is compiled (in the background, once serving), wall and CPU. */
  readonly warmMs: number;
  readonly warmCpuMs: number;
}

const here = fileURLToPath(import.meta.url);

/** Runs this file as a child with --expose-gc and returns its JSON line. */
function child(args: readonly string[], nodeFlags: readonly string[] = []): Record<string, unknown> {
  const out = spawnSync(process.execPath, ['--expose-gc', ...nodeFlags, here, ...args], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (out.status !== 0) throw new Error(`memory child ${args.join(' ')} failed: ${out.stderr.slice(-2000)}`);
  const last = out.stdout.trim().split('\n').pop() ?? '{}';
  return JSON.parse(last) as Record<string, unknown>;
}

function live(): { rssMb: number; heapMb: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
  return { rssMb: memoryMb(process.pid, 'VmRSS'), heapMb: process.memoryUsage().heapUsed / 1048576 };
}

/** Child: load a policy folder (or nothing) through the PolicyStore; figures after a full GC. */
async function loadChild(policyDir: string): Promise<void> {
  const { PolicyStore } = await import('../src/sources/policy-store.js');
  const before = live();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const store = new PolicyStore({
    paths: [policyDir],
    compile: { trustDomain: TRUST_DOMAIN },
    watch: false,
    debounceMs: 50,
  });
  const set = await store.load();
  const loadMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const loadCpuMs = (cpu.user + cpu.system) / 1000;
  // Serving from here; the policies no request has needed yet compile in the background, in slices. Memory is
  // measured once that is done (what a serving process holds).
  await store.warmed();
  const warmMs = performance.now() - t0;
  const warmCpu = process.cpuUsage(c0);
  const warmCpuMs = (warmCpu.user + warmCpu.system) / 1000;
  const after = live();
  const rules = set.policies.reduce((n, p) => n + (p.policy.spec.rules?.length ?? 0), 0);
  const peakRssMb = memoryMb(process.pid, 'VmHWM');
  // A reload after one file changed, while the event loop is watched: its longest pause is what a Check waits.
  const file = (await readdir(policyDir)).sort()[0]!;
  const text = await readFile(join(policyDir, file), 'utf8');
  await writeFile(join(policyDir, file), text.replaceAll('/admin/*', '/admin2/*'));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const busy = busiestTurn();
  const r0 = performance.now();
  // The store's debounce timers are unref'd (they must not keep a server alive): hold the loop open meanwhile.
  const keepAlive = setInterval(() => {}, 1000);
  await store.reload();
  clearInterval(keepAlive);
  const reloadMs = performance.now() - r0;
  await new Promise((r) => setTimeout(r, 5));
  delay.disable();
  const maxBusyCpuMs = busy.stop();
  await writeFile(join(policyDir, file), text);
  const reload = { ms: reloadMs, maxPauseMs: delay.max / 1e6, maxBusyCpuMs, generation: store.generation };
  const fullReload = await reloadEveryFile(store, policyDir);
  process.stdout.write(
    `${JSON.stringify({ rules, loadMs, loadCpuMs, warmMs, warmCpuMs, before, ...after, peakRssMb, reload, fullReload })}\n`,
  );
}

/**
 * On a shared machine most of a long pause can be the process waiting for a core. This watches every turn of the
 * event loop (a setImmediate chain) and returns the most CPU time the process used within one turn: what the work
 * itself held the loop for (an upper bound: GC and compiler threads count too).
 */
function busiestTurn(): { stop: () => number } {
  let on = true;
  let max = 0;
  let cpu = process.cpuUsage();
  const tick = () => {
    const used = process.cpuUsage(cpu);
    max = Math.max(max, (used.user + used.system) / 1000);
    cpu = process.cpuUsage();
    if (on) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop: () => {
      on = false;
      return max;
    },
  };
}

/** The longest event-loop pause while `work` runs. */
async function longestPause(work: () => Promise<unknown>): Promise<number> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await work();
  await new Promise((r) => setTimeout(r, 5));
  delay.disable();
  return delay.max / 1e6;
}

/** Every policy file rewritten (one path changed in each), then one reload: the whole set parsed and compiled. */
async function reloadEveryFile(
  store: import('../src/sources/policy-store.js').PolicyStore,
  policyDir: string,
): Promise<MemoryFigures['fullReload']> {
  const files = (await readdir(policyDir)).sort();
  const texts = await Promise.all(files.map((f) => readFile(join(policyDir, f), 'utf8')));
  await Promise.all(files.map((f, i) => writeFile(join(policyDir, f), texts[i]!.replaceAll('/admin/*', '/admin3/*'))));
  const keepAlive = setInterval(() => {}, 1000);
  let ms = 0;
  const busy = busiestTurn();
  const maxPauseMs = await longestPause(async () => {
    const r0 = performance.now();
    await store.reload();
    ms = performance.now() - r0;
  });
  const maxBusyCpuMs = busy.stop();
  // The floor: an idle loop watched for as long as the reload took.
  const idleMaxPauseMs = await longestPause(() => new Promise((r) => setTimeout(r, Math.max(50, ms))));
  clearInterval(keepAlive);
  await Promise.all(files.map((f, i) => writeFile(join(policyDir, f), texts[i]!)));
  return { ms, maxPauseMs, maxBusyCpuMs, idleMaxPauseMs };
}

/** Child: the in-process pipeline bench (cache on and off, a full cache, `checks` checks each). */
async function pipelineChild(checks: number): Promise<void> {
  const { runPipelineBench } = await import('./pipeline.js');
  const r = await runPipelineBench({ checks, freshShare: 0.1 }, { quiet: true });
  process.stdout.write(`${JSON.stringify({ ...r, peakRssMb: memoryMb(process.pid, 'VmHWM') })}\n`);
}

/** Generates fixtures of `namespaces` × 10 workloads (101 rules per namespace). */
async function fixtureDir(root: string, namespaces: number): Promise<string> {
  const dir = join(root, `ns-${namespaces}`);
  const f = await generateFixture(dir, { ...DEFAULT_FIXTURE, namespaces, hotRequests: 10 });
  return f.policyDir;
}

/** The smoke-run variant (`npm run bench -- --quick`): no 50k set, 100,000 checks. */
export function runMemoryBenchQuick(): Promise<Record<string, unknown>> {
  return runMemoryBench({ quick: true });
}

export async function runMemoryBench(options: { quick?: boolean } = {}): Promise<Record<string, unknown>> {
  const root = await mkdtemp(join(tmpdir(), 'mesh-authz-memory-'));
  try {
    const one = await fixtureDir(root, 1);
    const ten = await fixtureDir(root, 100);
    const big = options.quick ? null : await fixtureDir(root, 500);
    const fig = (r: Record<string, unknown>): MemoryFigures => r as unknown as MemoryFigures;
    const base = fig(child(['load', one]));
    const at10k = fig(child(['load', ten]));
    const at50k = big === null ? null : fig(child(['load', big]));
    const perRuleKb =
      at50k === null ? null : ((at50k.heapMb - at10k.heapMb) * 1024) / Math.max(1, at50k.rules - at10k.rules);
    const perRuleRssKb =
      at50k === null ? null : ((at50k.rssMb - at10k.rssMb) * 1024) / Math.max(1, at50k.rules - at10k.rules);
    const pipeline = child(['pipeline', String(options.quick ? 100_000 : 1_000_000)]);
    const results = { oneRule: base, at10k, at50k, perRuleKb, perRuleRssKb, pipeline };
    printMemory(results);
    return results;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function printMemory(r: {
  oneRule: MemoryFigures;
  at10k: MemoryFigures;
  at50k: MemoryFigures | null;
  perRuleKb: number | null;
  perRuleRssKb: number | null;
  pipeline: Record<string, unknown>;
}): void {
  const f = (n: number | null | undefined, d = 1) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(d) : '-');
  const row = (label: string, m: MemoryFigures | null) =>
    m === null
      ? `${label}: skipped (--quick)`
      : `${label}: ${m.rules} rules loaded in ${f(m.loadMs, 0)} ms; after full GC RSS ${f(m.rssMb)} MB, live heap ` +
        `${f(m.heapMb)} MB; peak RSS ${f(m.peakRssMb)} MB; reload of one changed file ${f(m.reload.ms)} ms, ` +
        `longest event-loop pause ${f(m.reload.maxPauseMs)} ms [target ≤ 10] (most CPU in one turn ` +
        `${f(m.reload.maxBusyCpuMs)} ms); reload of every file ${f(m.fullReload.ms, 0)} ms, longest pause ` +
        `${f(m.fullReload.maxPauseMs)} ms [target ≤ 10] (most CPU in one turn ${f(m.fullReload.maxBusyCpuMs)} ms; idle loop ` +
        `floor ${f(m.fullReload.idleMaxPauseMs)} ms); load CPU ${f(m.loadCpuMs, 0)} ms`;
  const p = r.pipeline as Record<string, Record<string, number> | number>;
  const on = p.cacheOn as Record<string, number>;
  const off = p.cacheOff as Record<string, number>;
  const full = p.fullCache as Record<string, number>;
  const run = (label: string, x: Record<string, number>) =>
    `${label}: ${x.checks} checks, live heap ${f(x.liveHeapStartMb)} MB → ${(x.heapGrowthMb ?? 0) >= 0 ? '+' : ''}` +
    `${f(x.heapGrowthMb, 2)} MB after, RSS ${f(x.rssStartMb)} → ${f(x.rssEndMb)} MB`;
  const lines = [
    'memory (each line a fresh process, figures after a full GC):',
    `  ${row('one policy', r.oneRule)}`,
    `  ${row('10k rules ', r.at10k)}  [target RSS ≤ 130 MB]`,
    `  ${row('50k rules ', r.at50k)}`,
    `  per added rule (10k → 50k): live heap ${f(r.perRuleKb, 2)} KB, RSS ${f(r.perRuleRssKb, 2)} KB  [target ≤ 2 KB]`,
    `  load time above one policy: 10k ${f(r.at10k.loadMs - r.oneRule.loadMs, 0)} ms [target ≤ 500], 50k ` +
      `${r.at50k ? f(r.at50k.loadMs - r.oneRule.loadMs, 0) : '-'} ms [target ≤ 2500]; load CPU above one policy: ` +
      `10k ${f(r.at10k.loadCpuMs - r.oneRule.loadCpuMs, 0)} ms, 50k ` +
      `${r.at50k ? f(r.at50k.loadCpuMs - r.oneRule.loadCpuMs, 0) : '-'} ms; every policy compiled (in the background, ` +
      `serving meanwhile) above one policy: 10k ${f(r.at10k.warmMs - r.oneRule.warmMs, 0)} ms (CPU ` +
      `${f(r.at10k.warmCpuMs - r.oneRule.warmCpuMs, 0)}), 50k ${r.at50k ? f(r.at50k.warmMs - r.oneRule.warmMs, 0) : '-'} ms ` +
      `(CPU ${r.at50k ? f(r.at50k.warmCpuMs - r.oneRule.warmCpuMs, 0) : '-'})`,
    `  pipeline, 10k rules: ${run('cache on', on)}`,
    `  pipeline, 10k rules: ${run('cache off', off)}`,
    `  pipeline, full cache: ${full.entries} entries, RSS ${f(full.rssMb)} MB; peak RSS over the whole run ` +
      `${f(p.peakRssMb as number)} MB  [target ≤ 200 MB]`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const [mode, arg] = process.argv.slice(2);
  if (mode === 'load') await loadChild(arg!);
  else if (mode === 'pipeline') await pipelineChild(Number(arg));
  else await runMemoryBench({ quick: process.argv.includes('--quick') });
}
