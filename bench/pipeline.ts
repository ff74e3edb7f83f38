import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createDecisionCache, type LruDecisionCache } from '../src/authz/cache.js';
import { CheckPipeline } from '../src/authz/pipeline.js';
import type { WireCheckRequest } from '../src/authz/wire-types.js';
import { configSchema } from '../src/config/schema.js';
import { decodeCheckRequest } from '../src/server/codec.js';
import { createIdentityVerifier, type ManagedIdentityVerifier } from '../src/sources/identity.js';
import { PolicyStore } from '../src/sources/policy-store.js';
import { DEFAULT_FIXTURE, generateFixture, ISSUER, TRUST_DOMAIN } from './fixtures.js';
import { readGrpcFrames } from './frame.js';
import { patchCounter } from './loadgen.js';
import { memoryMb } from './proc.js';
import { percentile } from './stats.js';

/**
 * The server-side cost of a decision, in process (no gRPC): the real Check pipeline over the generated load
 * (10,000 rules), with the cache on and off, 90% repeats of recent requests and 10% never-seen ones. Reports the
 * pipeline's own per-check time (CheckOutcome.durationUs: input → identity → decision → response), and memory:
 * RSS with 100,000 cache entries, and heap/RSS drift over a long run (flat memory is a target).
 */

export interface PipelineBenchOptions {
  readonly checks: number;
  readonly freshShare: number;
}

/** The product's verifier (trust bundle and JWKS files of the fixture), as `serve` builds it. */
async function identityVerifier(
  dir: string,
  caPath: string,
  jwksPath: string,
): Promise<[ManagedIdentityVerifier, string]> {
  const config = configSchema.parse({
    identity: {
      trustBundles: [{ trustDomain: TRUST_DOMAIN, pem: caPath }],
      peer: { sources: ['certificate'] },
      jwt: { issuers: [{ issuer: ISSUER, jwks: { file: jwksPath }, audiences: ['mesh'], algorithms: ['ES256'] }] },
    },
  }).identity;
  const resolvePath = (p: string) => (p.startsWith('/') ? p : join(dir, p));
  return [await createIdentityVerifier(config, { resolvePath }), 'product'];
}

/** The smoke-run variant (`npm run bench -- --quick`). */
export function runPipelineBenchQuick(): Promise<Record<string, unknown>> {
  return runPipelineBench({ checks: 20_000, freshShare: 0.1 });
}

export async function runPipelineBench(
  options: PipelineBenchOptions = { checks: 100_000, freshShare: 0.1 },
  output: { quiet?: boolean } = {},
): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-authz-pipeline-'));
  let closeIdentity = () => {};
  try {
    const fixture = await generateFixture(dir, DEFAULT_FIXTURE);
    const t0 = performance.now();
    const store = new PolicyStore({ paths: [fixture.policyDir], compile: { trustDomain: TRUST_DOMAIN }, watch: false });
    await store.load();
    const loadMs = performance.now() - t0;
    const [identity, identityKind] = await identityVerifier(dir, fixture.caPath, fixture.jwksPath);
    closeIdentity = () => identity.close();
    const decode = (b: Buffer) => decodeCheckRequest(readGrpcFrames(b)[0]!) as WireCheckRequest;
    const hot = fixture.hot.map(decode);
    const results: Record<string, unknown> = {
      fixture: fixture.summary,
      policyLoadMs: Math.round(loadMs),
      identity: identityKind,
      rssAfterLoadMb: memoryMb(process.pid, 'VmRSS'),
    };

    for (const cacheOn of [true, false]) {
      const cache = createDecisionCache(configSchema.parse({ cache: { enabled: cacheOn } }).cache);
      const pipeline = new CheckPipeline({ policies: () => store.current(), identity, mode: 'enforce', cache });
      const ring = hot;
      let fresh = 0;
      let seed = 7;
      const rand = () => {
        seed = (seed * 1_103_515_245 + 12_345) >>> 0;
        return seed / 4294967296;
      };
      const next = (): WireCheckRequest => {
        if (rand() < options.freshShare) {
          const t = fixture.fresh[fresh % fixture.fresh.length]!;
          return decode(patchCounter(t.body, t.offsets, fresh++));
        }
        return ring[Math.floor(rand() * ring.length)]!;
      };
      for (let i = 0; i < 20_000; i++) await pipeline.check(next());
      // Memory must be flat in a long-running server: start the measured run with the cache already at its bound
      // (filled with never-seen requests), so growth seen below is not the bounded cache filling up.
      const lru = cache as LruDecisionCache | null;
      if (lru !== null && options.checks >= 1_000_000) {
        const max = configSchema.parse({}).cache.maxEntries;
        for (let i = 0; lru.stats().entries < max && i < 2 * max; i++) {
          const t = fixture.fresh[i % fixture.fresh.length]!;
          await pipeline.check(decode(patchCounter(t.body, t.offsets, 2e9 + i)));
        }
      }
      const entries0 = lru?.stats().entries ?? 0;
      const times = new Float64Array(options.checks);
      let allowed = 0;
      // With --expose-gc, heap figures are taken after a full collection: live memory, not garbage not yet swept.
      const collect = (globalThis as { gc?: () => void }).gc ?? (() => {});
      collect();
      const heap0 = process.memoryUsage().heapUsed;
      const rss0 = memoryMb(process.pid, 'VmRSS');
      const started = performance.now();
      let rssMid = 0;
      let rssHalf = 0;
      for (let i = 0; i < options.checks; i++) {
        const outcome = await pipeline.check(next());
        times[i] = outcome.durationUs;
        if (outcome.allowed) allowed++;
        if (i === Math.floor(options.checks / 10)) rssMid = memoryMb(process.pid, 'VmRSS');
        if (i === Math.floor(options.checks / 2)) rssHalf = memoryMb(process.pid, 'VmRSS');
      }
      const seconds = (performance.now() - started) / 1000;
      const sorted = times.sort();
      const stats = (cache as LruDecisionCache | null)?.stats();
      results[cacheOn ? 'cacheOn' : 'cacheOff'] = {
        checks: options.checks,
        checksPerSecond: Math.round(options.checks / seconds),
        p50Us: percentile(sorted, 0.5),
        p99Us: percentile(sorted, 0.99),
        p999Us: percentile(sorted, 0.999),
        allowedShare: allowed / options.checks,
        cache: stats ? { ...stats, hitRatio: stats.hits / Math.max(1, stats.hits + stats.misses) } : null,
        heapGrowthMb: liveHeapGrowthMb(collect, heap0),
        liveHeapStartMb: heap0 / 1048576,
        rssStartMb: rss0,
        rssAt10PercentMb: rssMid,
        rssAt50PercentMb: rssHalf,
        cacheEntriesAtStart: entries0,
        rssEndMb: memoryMb(process.pid, 'VmRSS'),
      };
    }

    // 100,000 cache entries with 10,000 rules loaded: fill with distinct fresh requests.
    const cache = createDecisionCache(configSchema.parse({ cache: { enabled: true } }).cache)!;
    const pipeline = new CheckPipeline({ policies: () => store.current(), identity, mode: 'enforce', cache });
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; cache.stats().entries < 100_000 && i < 150_000; i++) {
      const t = fixture.fresh[i % fixture.fresh.length]!;
      await pipeline.check(decode(patchCounter(t.body, t.offsets, 1e9 + i)));
    }
    gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    results.fullCache = {
      entries: cache.stats().entries,
      // Live heap the entries hold (after a full collection; needs --expose-gc, else null).
      liveHeapMb: gc ? (heapAfter - heapBefore) / 1048576 : null,
      liveBytesPerEntry: gc ? Math.round((heapAfter - heapBefore) / Math.max(1, cache.stats().entries)) : null,
      estimatedBytes: cache.stats().bytes,
      rssMb: memoryMb(process.pid, 'VmRSS'),
      peakRssMb: memoryMb(process.pid, 'VmHWM'),
    };
    if (!output.quiet) printSummary(results, options);
    return results;
  } finally {
    closeIdentity();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Live heap now (after a collection, when available) minus `heap0`, in MB. */
function liveHeapGrowthMb(collect: () => void, heap0: number): number {
  collect();
  return (process.memoryUsage().heapUsed - heap0) / 1048576;
}

function printSummary(results: Record<string, unknown>, options: PipelineBenchOptions): void {
  const f = (n: unknown, d = 1) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(d) : '-');
  const lines = [`policy load ${results.policyLoadMs} ms; identity: ${results.identity}`];
  for (const key of ['cacheOn', 'cacheOff'] as const) {
    const r = results[key] as Record<string, number | Record<string, number> | null>;
    const cache = r.cache as Record<string, number> | null;
    lines.push(
      `${key === 'cacheOn' ? 'cache on ' : 'cache off'}: ${options.checks} checks (${options.freshShare * 100}% fresh), ` +
        `p50 ${f(r.p50Us)} µs, p99 ${f(r.p99Us)} µs, p99.9 ${f(r.p999Us)} µs` +
        (cache ? `, hit ratio ${f((cache.hitRatio ?? 0) * 100)}%` : '') +
        `; RSS ${f(r.rssStartMb)} → ${f(r.rssAt10PercentMb)} (10%) → ${f(r.rssAt50PercentMb)} (50%) → ` +
        `${f(r.rssEndMb)} MB; live heap ${f(r.liveHeapStartMb)} MB ${(r.heapGrowthMb as number) >= 0 ? '+' : ''}` +
        `${f(r.heapGrowthMb)} MB` +
        (cache ? `, cache entries ${r.cacheEntriesAtStart} → ${cache.entries}` : ''),
    );
  }
  const full = results.fullCache as Record<string, number>;
  lines.push(
    `full cache: ${full.entries} entries (${f((full.estimatedBytes ?? 0) / 1048576)} MiB estimated, live heap ` +
      `${f(full.liveHeapMb)} MB = ${f(full.liveBytesPerEntry, 0)} bytes per entry), RSS ${f(full.rssMb)} MB`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const checks = Number(process.argv[2] ?? 100_000);
  process.stdout.write(`${JSON.stringify(await runPipelineBench({ checks, freshShare: 0.1 }), null, 2)}\n`);
}
