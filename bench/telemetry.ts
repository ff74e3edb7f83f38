/**
 * Telemetry overhead on Check throughput: the same request mix (75% allows, 25% denies, each with its own
 * unsampled W3C trace context) with telemetry off, and with the production setting the issue names: deny-only
 * decision log, metrics, tracing on with allows sampled at 1%, exporting over real OTLP/HTTP protobuf to a
 * receiver in a separate process.
 *
 * Run: `npm run build --silent && node --expose-gc dist/bench/telemetry.js [seconds] [grpc-checks] [rounds]`
 *
 * Two measurements, both in CPU time of the serving process (user + system, all threads, so the log writer and
 * span exporter count), which is what throughput on a dedicated core is; wall-clock rates on a shared machine
 * mostly measure the neighbours:
 * 1. the service over gRPC (AuthzService on loopback, load from a separate client process): the floor applies;
 * 2. the bare CheckPipeline in-process, where a Check costs a few µs, so telemetry's share is the worst case.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckPipeline, type PipelineOptions } from '../src/authz/pipeline.js';
import { staticPolicySource } from '../src/authz/seams.js';
import type { WireCheckRequest } from '../src/authz/wire-types.js';
import { parseConfigText } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import type { IdentityVerifier } from '../src/identity/types.js';
import type { AttributeUse, CompiledPolicySet, Decision, PolicyRef } from '../src/policy/types.js';
import { NO_ATTRIBUTES } from '../src/policy/types.js';
import { AuthzService, type ServiceParts } from '../src/server/service.js';
import { createTelemetry, type Telemetry, telemetryServiceParts } from '../src/telemetry/index.js';
import { standInEngine } from '../test/support/stand-in-engine.js';
import { traceRequest } from './trace-requests.js';

/** The floor: throughput with telemetry on must stay at or above this fraction of telemetry off. */
const FLOOR = 0.9;

const POLICY: PolicyRef = { namespace: 'shop', name: 'orders-allow', action: 'ALLOW', source: null };
const USE: AttributeUse = { ...NO_ATTRIBUTES, method: true, path: true, peer: true };
const ALLOW: Decision = {
  allowed: true,
  code: 'allow_matched',
  reason: 'ALLOW policy shop/orders-allow rule 0 matched',
  policy: POLICY,
  ruleIndex: 0,
  shadow: [],
  audit: [],
};
const DENY: Decision = {
  allowed: false,
  code: 'no_allow_matched',
  reason: 'no rule of an ALLOW policy matched',
  policy: null,
  ruleIndex: null,
  shadow: [],
  audit: [],
};
const policies: CompiledPolicySet = standInEngine({
  generation: 1,
  attributesFor: () => USE,
  evaluate: (_w, req) => (req.path.startsWith('/orders') ? ALLOW : DENY),
});
const identity: IdentityVerifier = {
  verify: (input) => ({
    ok: true,
    peer: {
      spiffeId: input.principal,
      trustDomain: 'cluster.local',
      namespace: 'shop',
      serviceAccount: 'frontend',
      expiresAt: input.now + 3_600_000,
      credentialId: 'c',
    },
    user: null,
  }),
};

/** A fixed mix: 75% allows, 25% denies, each with its own (unsampled) W3C trace context, as Envoy sends. */
function requests(n: number): WireCheckRequest[] {
  return Array.from({ length: n }, (_, i) => traceRequest(i, i));
}

async function startSink(): Promise<{ url: string; child: ChildProcess }> {
  const code =
    "const s=require('http').createServer((q,r)=>{q.resume();q.on('end',()=>r.end())});" +
    "s.listen(0,'127.0.0.1',()=>console.log(s.address().port))";
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  return { url: `http://127.0.0.1:${chunk.toString().trim()}/v1/traces`, child };
}

/**
 * Checks per second of CPU time (user + system, all threads, so the log writer and exporter count too). CPU time,
 * not wall time: on a shared machine wall-clock throughput mostly measures the neighbours.
 */
async function run(options: PipelineOptions, reqs: WireCheckRequest[], seconds: number): Promise<number> {
  const pipeline = new CheckPipeline(options);
  const end = Date.now() + seconds * 1000;
  let n = 0;
  const cpu0 = process.cpuUsage();
  while (Date.now() < end) {
    for (let i = 0; i < 1000; i++) await pipeline.check(reqs[(n + i) % reqs.length]!);
    n += 1000;
    // Let timers, the log writer and the span exporter run, as they would between requests in a server.
    await new Promise((r) => setImmediate(r));
  }
  const cpu = process.cpuUsage(cpu0);
  return n / ((cpu.user + cpu.system) / 1e6);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Variant {
  readonly label: string;
  readonly options: PipelineOptions;
  readonly samples: number[];
}

function makeTelemetry(
  dir: string,
  sinkUrl: string,
  decisions: 'deny' | 'none',
  tracing: boolean,
  metrics: boolean,
  denyRateLimit = true,
) {
  return createTelemetry(
    configSchema.parse({
      telemetry: {
        log: { decisions, destination: join(dir, `${decisions}-${tracing}-${metrics}-${denyRateLimit}.log`) },
        tracing: { enabled: tracing, endpoint: sinkUrl, allowSampleRate: 0.01 },
        metrics: { enabled: metrics },
        // Off: every deny traced and logged (the literal setting); on: the default 100/s per key.
        ...(denyRateLimit ? {} : { denyRateLimit: { perSecond: 0, burst: 1 } }),
      },
    }).telemetry,
    { version: 'bench' },
  );
}

function line(label: string, checksPerCpuSecond: number, off: number): string {
  const x = checksPerCpuSecond;
  const rate = `${x.toFixed(0).padStart(8)} checks/CPU-s  ${(1e6 / x).toFixed(2).padStart(7)} µs/check`;
  return `  ${label.padEnd(48)} ${rate}  (${((x / off) * 100).toFixed(1)}% of off)`;
}

/**
 * Starts each round clean: collect the previous round's garbage (run with --expose-gc) and let its leftovers
 * (closing connections, exports) finish, so one variant's cleanup is not billed to the next.
 */
async function settle(): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 200));
}

/** Service over gRPC: server CPU per Check while a separate client process drives `count` Checks. */
async function grpcRound(target: string, count: number, after?: () => Promise<void>) {
  const client = fileURLToPath(new URL('./load-client.js', import.meta.url));
  await settle();
  const cpu0 = process.cpuUsage();
  const child = spawn(process.execPath, [client, target, String(count), '64'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await once(child, 'exit');
  await after?.(); // flush logs and spans inside the measured window
  const cpu = process.cpuUsage(cpu0);
  const { done, failed } = JSON.parse(out) as { done: number; failed: number };
  if (failed > 0 || done !== count) throw new Error(`load client: ${failed} failed, ${done}/${count} done`);
  return count / ((cpu.user + cpu.system) / 1e6);
}

async function benchGrpc(dir: string, sinkUrl: string, count: number, rounds: number): Promise<number> {
  const config = parseConfigText(
    JSON.stringify({ server: { listen: '127.0.0.1:0' }, admin: { enabled: false } }),
    join(dir, 'bench.yaml'),
  );
  const loaded = { config, file: join(dir, 'bench.yaml'), dir };
  const baseParts: ServiceParts = { policies: staticPolicySource(policies), identity: { ...identity, close() {} } };
  const limited = await makeTelemetry(dir, sinkUrl, 'deny', true, true);
  const everyDeny = await makeTelemetry(dir, sinkUrl, 'deny', true, true, false);
  const variants = [
    { label: 'telemetry off', service: new AuthzService(loaded, baseParts), flush: undefined, samples: [] as number[] },
    {
      label: 'deny log + metrics + tracing (1% allows, OTLP)',
      service: new AuthzService(loaded, { ...baseParts, ...telemetryServiceParts(limited) }),
      flush: () => limited.flush(),
      samples: [] as number[],
    },
    {
      label: '  same, no deny rate limit (every deny)',
      service: new AuthzService(loaded, { ...baseParts, ...telemetryServiceParts(everyDeny) }),
      flush: () => everyDeny.flush(),
      samples: [] as number[],
    },
  ];
  const targets: string[] = [];
  for (const v of variants) targets.push((await v.service.start()).grpc);
  for (const [i, v] of variants.entries()) await grpcRound(targets[i]!, Math.min(count, 5000), v.flush); // warm-up
  for (let r = 0; r < rounds; r++) {
    // Rotate which goes first, so order effects cancel out.
    for (let k = 0; k < variants.length; k++) {
      const i = (k + r) % variants.length;
      const v = variants[i]!;
      v.samples.push(await grpcRound(targets[i]!, count, v.flush));
    }
  }
  for (const v of variants) await v.service.shutdown('bench done');
  const off = median(variants[0]!.samples);
  console.log(
    `1. AuthzService over gRPC (loopback, client in another process, 64 in flight), ${count} checks x ${rounds}`,
  );
  for (const v of variants) console.log(line(v.label, median(v.samples), off));
  return median(variants[1]!.samples) / off;
}

async function benchPipeline(dir: string, sinkUrl: string, seconds: number, rounds: number): Promise<void> {
  const full: Telemetry = await makeTelemetry(dir, sinkUrl, 'deny', true, true);
  const everyDeny: Telemetry = await makeTelemetry(dir, sinkUrl, 'deny', true, true, false);
  const parts = {
    metrics: await makeTelemetry(dir, sinkUrl, 'none', false, true),
    log: await makeTelemetry(dir, sinkUrl, 'deny', false, false),
    tracing: await makeTelemetry(dir, sinkUrl, 'none', true, false),
  };
  const base: PipelineOptions = { policies: () => policies, identity, mode: 'enforce' };
  const withTelemetry = (t: Telemetry): PipelineOptions => ({ ...base, tracer: t.tracer, observers: [t.observer] });
  const variants: Variant[] = [
    { label: 'telemetry off', options: base, samples: [] },
    { label: 'deny log + metrics + tracing (1% allows, OTLP)', options: withTelemetry(full), samples: [] },
    { label: '  same, no deny rate limit (every deny)', options: withTelemetry(everyDeny), samples: [] },
    { label: '  metrics only', options: withTelemetry(parts.metrics), samples: [] },
    { label: '  deny log only', options: withTelemetry(parts.log), samples: [] },
    { label: '  tracing only (1% allows, OTLP)', options: withTelemetry(parts.tracing), samples: [] },
  ];
  const reqs = requests(10_000);
  for (const v of variants) await run(v.options, reqs, 0.5); // warm-up (JIT)
  // Interleaved rounds, so drift in machine load hits every variant alike.
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      await settle();
      v.samples.push(await run(v.options, reqs, seconds));
    }
  }
  for (const t of [full, everyDeny, ...Object.values(parts)]) await t.shutdown();
  const off = median(variants[0]!.samples);
  console.log(`2. CheckPipeline in-process (no gRPC; worst case for telemetry's share), ${rounds} x ${seconds}s`);
  for (const v of variants) console.log(line(v.label, median(v.samples), off));
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? '2');
  const grpcChecks = Number(process.argv[3] ?? '20000');
  const rounds = Number(process.argv[4] ?? '7');
  const dir = mkdtempSync(join(tmpdir(), 'mesh-authz-bench-'));
  const sink = await startSink();
  console.log(
    `Telemetry overhead (node ${process.version}); medians of ${rounds} interleaved rounds; CPU time of the server`,
  );
  const ratio = await benchGrpc(dir, sink.url, grpcChecks, rounds);
  await benchPipeline(dir, sink.url, seconds, rounds);
  sink.child.kill();
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `gRPC throughput ratio on/off ${ratio.toFixed(3)}; floor ${FLOOR} (at most ${Math.round((1 - FLOOR) * 100)}% lower)`,
  );
  console.log(ratio >= FLOOR ? 'PASS' : 'BELOW FLOOR');
  process.exitCode = ratio >= FLOOR ? 0 : 1;
}

await main();
