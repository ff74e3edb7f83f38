import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

/**
 * The V8 heap limit against the container's memory limit. V8 sizes its old space from the machine's memory, not
 * the cgroup's, so a pod limited to 512Mi on a 64 GB node can grow its heap past the limit and be OOM-killed
 * (then Envoy denies everything). The Deployment sets `NODE_OPTIONS=--max-old-space-size` to about 3/4 of the
 * limit; this check, run once at start, warns when the heap may still outgrow the container.
 */

/** cgroup v2 then v1; null when there is no limit (or no cgroup file to read). */
export function containerMemoryLimit(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number | null {
  for (const path of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = read(path).trim();
    } catch {
      continue;
    }
    if (text === 'max') return null;
    const bytes = Number(text);
    // cgroup v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX × page size).
    if (Number.isFinite(bytes) && bytes > 0 && bytes < 2 ** 60) return bytes;
    return null;
  }
  return null;
}

/** Heap limit (old space plus young space: 432 MB for --max-old-space-size=384) above this share of the limit. */
const MAX_SHARE = 0.9;

/**
 * A warning to log at start, or null when the heap limit fits the container (or there is no limit). With
 * `processes` workers (server.workers) every one of them may grow its heap to the limit, so they share the
 * container's limit between them.
 */
export function heapLimitWarning(
  limitBytes: number | null = containerMemoryLimit(),
  heapLimitBytes: number = getHeapStatistics().heap_size_limit,
  processes = 1,
): string | null {
  if (limitBytes === null) return null;
  if (heapLimitBytes * processes <= limitBytes * MAX_SHARE) return null;
  const mb = (n: number) => Math.round(n / 1048576);
  const each = processes > 1 ? ` each of ${processes} worker processes` : ' the process';
  return (
    `the V8 heap of${each} may grow to ${mb(heapLimitBytes)} MB but the container is limited to ` +
    `${mb(limitBytes)} MB: set NODE_OPTIONS=--max-old-space-size=${Math.floor((mb(limitBytes) * 0.75) / processes)} ` +
    `(about 3/4 of the limit${processes > 1 ? ', shared between the workers' : ''}) so ` +
    `${processes > 1 ? 'they collect' : 'the process collects'} garbage harder instead of being OOM-killed`
  );
}
