import { pathToFileURL } from 'node:url';
import { compilePolicySet, type LoadedPolicy, type PolicyRule, type PolicySet } from '../src/policy/index.js';
import type { PeerIdentity, RequestAttributes, WorkloadRef } from '../src/policy/types.js';

/**
 * Policy evaluation alone: decisions per second and per-decision latency for 10 / 1,000 / 10,000 rules spread over
 * 1 / 100 / 1,000 workloads (each workload gets max(1, rules / workloads) rules of its own), printed beside the
 * floor measured the same way in the same run (a Map lookup, and evaluate() on an empty set). Rules are shaped like
 * the reconciler's output: one caller SPIFFE ID, methods and a path prefix per rule. A separate worst case scans
 * 10,000 rules that the index cannot narrow (namespace wildcards). Also: the cost for one workload with 1 vs 1,000
 * other workloads in the set (target: within 1.5×).
 */

const NS = 'bench';
const PATH = '/api/v1/items/42?x=1';

function peer(i: number): PeerIdentity {
  return {
    spiffeId: `spiffe://cluster.local/ns/${NS}/sa/caller-${i}`,
    trustDomain: 'cluster.local',
    namespace: NS,
    serviceAccount: `caller-${i}`,
    expiresAt: Number.MAX_SAFE_INTEGER,
    credentialId: `c${i}`,
  };
}

function request(p: PeerIdentity | null, method: string): RequestAttributes {
  return {
    method,
    path: PATH,
    host: 'svc.bench.svc.cluster.local:8080',
    headers: { 'x-request-id': 'r' },
    sourceIp: '10.1.2.3',
    remoteIp: '10.1.2.3',
    destinationIp: '10.9.9.9',
    destinationPort: 8080,
    sni: '',
    peer: p,
    user: null,
    filterMetadata: {},
  };
}

function workload(i: number): WorkloadRef {
  return { namespace: NS, labels: { app: `svc-${i}`, version: 'v1' } };
}

function policyFor(w: number, rules: readonly PolicyRule[], action: 'ALLOW' | 'DENY' = 'ALLOW'): LoadedPolicy {
  return {
    policy: {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: `${action.toLowerCase()}-svc-${w}`, namespace: NS },
      spec: { selector: { matchLabels: { app: `svc-${w}` } }, action, rules },
    },
    source: { file: 'bench', line: w },
    dryRun: false,
  };
}

/** `perWorkload` reconciler-style rules for each of `workloads` workloads, plus a mesh-wide DENY and allow-nothing. */
function buildSet(workloads: number, perWorkload: number, indexed = true): PolicySet {
  const policies: LoadedPolicy[] = [];
  let caller = 0;
  for (let w = 0; w < workloads; w++) {
    const rules: PolicyRule[] = [];
    for (let r = 0; r < perWorkload; r++) {
      const source = indexed
        ? { principals: [`cluster.local/ns/${NS}/sa/caller-${caller++ % 20000}`] }
        : { namespaces: [`team-${r}-*`] };
      rules.push({
        from: [{ source }],
        to: [{ operation: { methods: ['GET', 'POST'], paths: [`/api/v${(r % 3) + 1}/*`] } }],
      });
    }
    policies.push(policyFor(w, rules));
  }
  policies.push({
    policy: {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'deny-debug', namespace: 'istio-system' },
      spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/debug/*'] } }] }] },
    },
    source: { file: 'bench', line: 0 },
    dryRun: false,
  });
  return compilePolicySet(policies, {}, 1);
}

interface Timing {
  readonly decisionsPerSecond: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

/** Throughput from a tight loop; latency from per-call hrtime samples (timer cost included, as in the floor). */
function measure(fn: (i: number) => unknown, loops = 100_000, samples = 20_000): Timing {
  for (let i = 0; i < Math.min(20_000, loops); i++) fn(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < loops; i++) fn(i);
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const lat = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const s = process.hrtime.bigint();
    fn(i);
    lat[i] = Number(process.hrtime.bigint() - s) / 1000;
  }
  lat.sort();
  return {
    decisionsPerSecond: Math.round(loops / elapsed),
    p50Us: round(lat[Math.floor(samples * 0.5)]!),
    p99Us: round(lat[Math.floor(samples * 0.99)]!),
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** Requests for random workloads: half from a caller the workload allows, half from one it does not. */
function evaluator(set: PolicySet, workloads: number, perWorkload: number) {
  const cases: [WorkloadRef, RequestAttributes][] = [];
  for (let i = 0; i < 1024; i++) {
    const w = (i * 7919) % workloads;
    const allowed = i % 2 === 0;
    const callerIndex = allowed ? (w * perWorkload + (i % perWorkload)) % 20000 : 20000 + i;
    cases.push([workload(w), request(peer(callerIndex), i % 3 === 0 ? 'POST' : 'GET')]);
  }
  return (i: number) => {
    const c = cases[i & 1023]!;
    return set.evaluate(c[0], c[1]);
  };
}

export async function runPolicyBench(): Promise<Record<string, unknown>> {
  const map = new Map<string, number>([['spiffe://cluster.local/ns/bench/sa/caller-1', 1]]);
  const keys = ['spiffe://cluster.local/ns/bench/sa/caller-1', 'spiffe://cluster.local/ns/bench/sa/caller-2'];
  const empty = compilePolicySet([], {}, 1);
  const emptyReq = request(peer(1), 'GET');
  const w0 = workload(0);
  const floor = {
    mapLookup: measure((i) => map.get(keys[i & 1]!)),
    emptySetEvaluate: measure(() => empty.evaluate(w0, emptyReq)),
  };

  const scenarios: Record<string, unknown>[] = [];
  for (const rules of [10, 1_000, 10_000]) {
    for (const workloads of [1, 100, 1_000]) {
      const perWorkload = Math.max(1, Math.floor(rules / workloads));
      const c0 = process.hrtime.bigint();
      const set = buildSet(workloads, perWorkload);
      const compileMs = Number(process.hrtime.bigint() - c0) / 1e6;
      const t = measure(evaluator(set, workloads, perWorkload));
      scenarios.push({ rules, workloads, rulesPerWorkload: perWorkload, compileMs: round(compileMs), ...t });
    }
  }

  // Worst case: 10,000 rules on one workload that the index cannot narrow (every rule must be tried on a deny).
  const scan = buildSet(1, 10_000, false);
  const scanReq = request(peer(1), 'GET');
  const unindexed = { rules: 10_000, workloads: 1, ...measure(() => scan.evaluate(w0, scanReq), 500, 500) };

  // Isolation: the same 10-rule workload alone vs beside 999 others.
  const alone = buildSet(1, 10);
  const crowded = buildSet(1_000, 10);
  // Alternate the two runs and keep each one's best (lowest p50) of five: on a shared machine, other processes'
  // bursts otherwise decide the ratio.
  let one: Timing | null = null;
  let many: Timing | null = null;
  for (let round = 0; round < 5; round++) {
    const a = measure(evaluatorFor(alone), 50_000, 20_000);
    const b = measure(evaluatorFor(crowded), 50_000, 20_000);
    if (one === null || a.p50Us < one.p50Us) one = a;
    if (many === null || b.p50Us < many.p50Us) many = b;
  }
  const isolation = {
    alone: one!,
    with1000Workloads: many!,
    ratioP50: round(many!.p50Us / one!.p50Us),
    ratioThroughput: round(one!.decisionsPerSecond / many!.decisionsPerSecond),
  };

  return { floor, scenarios, unindexed, isolation, targets: { p99UsAt10000Rules: 10, workloadRatio: 1.5 } };
}

function evaluatorFor(set: PolicySet) {
  const w = workload(0);
  const reqs = [request(peer(3), 'GET'), request(peer(19_999), 'GET')];
  return (i: number) => set.evaluate(w, reqs[i & 1]!);
}

function printReport(r: Record<string, unknown>): void {
  const floor = r.floor as Record<string, Timing>;
  const out: string[] = ['policy evaluation benchmark (Node ' + process.version + ')', ''];
  out.push(
    `floor: Map lookup p50 ${floor.mapLookup!.p50Us} µs p99 ${floor.mapLookup!.p99Us} µs (${floor.mapLookup!.decisionsPerSecond}/s)`,
  );
  out.push(
    `floor: empty-set evaluate p50 ${floor.emptySetEvaluate!.p50Us} µs p99 ${floor.emptySetEvaluate!.p99Us} µs (${floor.emptySetEvaluate!.decisionsPerSecond}/s)`,
  );
  out.push('', 'rules  workloads  rules/wl  compile ms   decisions/s   p50 µs   p99 µs');
  for (const s of r.scenarios as Record<string, number>[]) {
    out.push(
      `${String(s.rules).padStart(5)}  ${String(s.workloads).padStart(9)}  ${String(s.rulesPerWorkload).padStart(8)}  ${String(s.compileMs).padStart(10)}  ${String(s.decisionsPerSecond).padStart(12)}  ${String(s.p50Us).padStart(7)}  ${String(s.p99Us).padStart(7)}`,
    );
  }
  const u = r.unindexed as Timing;
  out.push(
    '',
    `unindexed worst case (10,000 namespace-wildcard rules, 1 workload): ${u.decisionsPerSecond}/s, p50 ${u.p50Us} µs, p99 ${u.p99Us} µs`,
  );
  const iso = r.isolation as { alone: Timing; with1000Workloads: Timing; ratioP50: number; ratioThroughput: number };
  out.push(
    `one workload alone: p50 ${iso.alone.p50Us} µs, ${iso.alone.decisionsPerSecond}/s; beside 999 others: p50 ${iso.with1000Workloads.p50Us} µs, ${iso.with1000Workloads.decisionsPerSecond}/s; ratio p50 ${iso.ratioP50}×, throughput ${iso.ratioThroughput}× (target ≤ 1.5×)`,
  );
  out.push('targets: p99 < 10 µs per decision at 10,000 rules');
  process.stdout.write(`${out.join('\n')}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runPolicyBench().then(printReport, (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exitCode = 1;
  });
}
