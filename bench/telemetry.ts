/**
 * Telemetry overhead on Check throughput: the same request mix through `CheckPipeline` with telemetry off, and
 * with the production setting the issue asks about (deny-only decision log, metrics, tracing on with allows
 * sampled at 1%, exporting over real OTLP/HTTP protobuf to a receiver in a separate process).
 *
 * Run: `npm run build --silent && node dist/bench/telemetry.js [seconds-per-round]`
 *
 * This drives the pipeline in-process (no gRPC), so the per-Check baseline is as small as it gets and the
 * telemetry share is the worst case; over gRPC the same absolute cost is a smaller fraction.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckPipeline, type PipelineOptions } from '../src/authz/pipeline.js';
import type { WireCheckRequest } from '../src/authz/wire.js';
import { configSchema } from '../src/config/schema.js';
import type { IdentityVerifier } from '../src/identity/types.js';
import type { AttributeUse, CompiledPolicySet, Decision, PolicyRef } from '../src/policy/types.js';
import { createTelemetry, type Telemetry } from '../src/telemetry/index.js';

/** The floor: throughput with telemetry on must stay at or above this fraction of telemetry off. */
const FLOOR = 0.9;
const ALLOW_SHARE = 0.9;

const POLICY: PolicyRef = { namespace: 'shop', name: 'orders-allow', action: 'ALLOW', source: null };
const USE: AttributeUse = {
  method: true,
  path: true,
  host: false,
  sourceIp: false,
  remoteIp: false,
  destinationIp: false,
  destinationPort: false,
  sni: false,
  peer: true,
  user: false,
  headers: [],
  metadata: false,
};
const ALLOW: Decision = {
  allowed: true,
  code: 'ALLOW_MATCHED',
  reason: 'ALLOW policy shop/orders-allow rule 0 matched',
  policy: POLICY,
  ruleIndex: 0,
  shadow: [],
  audit: [],
};
const DENY: Decision = {
  allowed: false,
  code: 'NO_ALLOW_MATCHED',
  reason: 'no rule of an ALLOW policy matched',
  policy: null,
  ruleIndex: null,
  shadow: [],
  audit: [],
};
const policies: CompiledPolicySet = {
  generation: 1,
  attributesFor: () => USE,
  evaluate: (_w, req) => (req.path.startsWith('/orders') ? ALLOW : DENY),
};
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

function hex(bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++)
    s += Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0');
  return s;
}

/** A fixed mix: 90% allows, 10% denies, each with its own (unsampled) W3C trace context, as Envoy sends. */
function requests(n: number): WireCheckRequest[] {
  const out: WireCheckRequest[] = [];
  for (let i = 0; i < n; i++) {
    const path = i % 10 < ALLOW_SHARE * 10 ? `/orders/${i}` : `/admin/${i}`;
    out.push({
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
    });
  }
  return out;
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

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? '2');
  const rounds = 5;
  const dir = mkdtempSync(join(tmpdir(), 'mesh-authz-bench-'));
  const sink = await startSink();
  const make = (decisions: 'deny' | 'none', tracing: boolean, metrics: boolean, name: string) =>
    createTelemetry(
      configSchema.parse({
        telemetry: {
          log: { decisions, destination: join(dir, `${name}.log`) },
          tracing: { enabled: tracing, endpoint: sink.url, allowSampleRate: 0.01 },
          metrics: { enabled: metrics },
        },
      }).telemetry,
      { version: 'bench' },
    );
  const full: Telemetry = await make('deny', true, true, 'full');
  const parts = {
    metrics: await make('none', false, true, 'metrics'),
    log: await make('deny', false, false, 'log'),
    tracing: await make('none', true, false, 'tracing'),
  };
  const base: PipelineOptions = { policies: () => policies, identity, mode: 'enforce' };
  const withTelemetry = (t: Telemetry): PipelineOptions => ({ ...base, tracer: t.tracer, observers: [t.observer] });
  const variants: Variant[] = [
    { label: 'telemetry off', options: base, samples: [] },
    { label: 'deny log + metrics + tracing (1% allows, OTLP)', options: withTelemetry(full), samples: [] },
    { label: '  metrics only', options: withTelemetry(parts.metrics), samples: [] },
    { label: '  deny log only', options: withTelemetry(parts.log), samples: [] },
    { label: '  tracing only (1% allows, OTLP)', options: withTelemetry(parts.tracing), samples: [] },
  ];
  const reqs = requests(10_000);

  for (const v of variants) await run(v.options, reqs, 0.5); // warm-up (JIT)
  // Interleaved rounds, so drift in machine load hits every variant alike.
  for (let r = 0; r < rounds; r++) for (const v of variants) v.samples.push(await run(v.options, reqs, seconds));
  for (const t of [full, ...Object.values(parts)]) await t.shutdown();
  sink.child.kill();
  rmSync(dir, { recursive: true, force: true });

  const off = median(variants[0]!.samples);
  const on = median(variants[1]!.samples);
  const ratio = on / off;
  console.log(`Check throughput per CPU-second, in-process CheckPipeline, ${ALLOW_SHARE * 100}% allows, 10% denies,`);
  console.log(`median of ${rounds} interleaved rounds of ${seconds}s (node ${process.version})`);
  for (const v of variants) {
    const x = median(v.samples);
    const line = `  ${v.label.padEnd(48)} ${x.toFixed(0).padStart(8)} checks/s  ${(1e6 / x).toFixed(2).padStart(6)} µs/check`;
    console.log(`${line}  (${((x / off) * 100).toFixed(1)}% of off)`);
  }
  console.log(`ratio on/off ${ratio.toFixed(3)}; floor ${FLOOR} (at most ${Math.round((1 - FLOOR) * 100)}% lower)`);
  console.log(ratio >= FLOOR ? 'PASS' : 'BELOW FLOOR');
  process.exitCode = ratio >= FLOOR ? 0 : 1;
}

await main();
