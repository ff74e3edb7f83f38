/**
 * Server-side figures from mesh-authz's own `/metrics` (admin listener): the Check duration histogram measured
 * inside the pipeline (input → identity → decision → response, no gRPC or network), and the cache counters.
 * The histogram is cumulative over the process' life (warm-up included) and has fixed buckets, so the p99 is
 * reported as the upper bound of the bucket that holds it.
 */

export interface ServerSide {
  readonly checks: number;
  /** Share of checks at or under each bucket bound (seconds → share). */
  readonly shareAtMost: Readonly<Record<string, number>>;
  /** Upper bound (µs) of the histogram bucket holding the 99th percentile. */
  readonly p99AtMostUs: number;
  readonly cacheHits: number;
  readonly cacheMisses: number;
}

/** Parses Prometheus text: sums `<name>_bucket` by `le` over every other label, plus cache counters. */
export function parseServerSide(text: string): ServerSide {
  const buckets = new Map<number, number>();
  let count = 0;
  let hits = 0;
  let misses = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('mesh_authz_check_duration_seconds_bucket')) {
      const le = /le="([^"]+)"/.exec(line)?.[1];
      if (le === undefined) continue;
      const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + value);
    } else if (line.startsWith('mesh_authz_check_duration_seconds_count')) count += value;
    else if (line.startsWith('mesh_authz_decision_cache_hits_total')) hits += value;
    else if (line.startsWith('mesh_authz_decision_cache_misses_total')) misses += value;
  }
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const shareAtMost: Record<string, number> = {};
  let p99AtMostUs = Number.NaN;
  for (const b of bounds) {
    const share = count > 0 ? buckets.get(b)! / count : 0;
    if (Number.isFinite(b)) shareAtMost[String(b)] = share;
    if (Number.isNaN(p99AtMostUs) && share >= 0.99) p99AtMostUs = b * 1e6;
  }
  return { checks: count, shareAtMost, p99AtMostUs, cacheHits: hits, cacheMisses: misses };
}

export async function scrapeServerSide(adminPort: number): Promise<ServerSide | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
    if (!res.ok) return null;
    return parseServerSide(await res.text());
  } catch {
    return null;
  }
}
