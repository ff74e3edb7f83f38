import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * How many worker processes `server.workers` asks for. `auto` is the CPUs this process may really use: Node's
 * available parallelism (the affinity mask), lowered to the container's CPU quota when one is set. A pod limited to
 * 2 CPUs on a 32-core node must not fork 32 workers that the CFS quota then throttles (each worker also holds its
 * own policy set and decision cache in memory). A CPU *request* sets no quota: only a limit does.
 */

export type WorkersSetting = number | 'auto';

type ReadFile = (path: string) => string;

const readText: ReadFile = (p) => readFileSync(p, 'utf8');

/**
 * The CPU quota in CPUs (2.5 for `250000 100000`), or null when there is none. cgroup v2 `cpu.max` ("max 100000"
 * means no quota), then cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1 means none).
 */
export function cpuQuota(read: ReadFile = readText): number | null {
  const v2 = tryRead(read, '/sys/fs/cgroup/cpu.max');
  if (v2 !== null) {
    const [quota, period] = v2.split(/\s+/);
    return ratio(quota, period);
  }
  const quota = tryRead(read, '/sys/fs/cgroup/cpu/cpu.cfs_quota_us');
  const period = tryRead(read, '/sys/fs/cgroup/cpu/cpu.cfs_period_us');
  if (quota === null || period === null) return null;
  return ratio(quota, period);
}

/** Resolves `server.workers` to a process count (at least 1). */
export function resolveWorkers(
  setting: WorkersSetting,
  cpus: number = availableParallelism(),
  quota: number | null = cpuQuota(),
): number {
  if (setting !== 'auto') return setting;
  // A quota of 1.5 CPUs can keep two workers busy half the time each; rounding up uses it, and the kernel's
  // throttling (not a missing worker) is what then bounds the throughput.
  const limit = quota === null ? cpus : Math.min(cpus, Math.ceil(quota));
  return Math.max(1, limit);
}

function tryRead(read: ReadFile, path: string): string | null {
  try {
    return read(path).trim();
  } catch {
    return null;
  }
}

function ratio(quota: string | undefined, period: string | undefined): number | null {
  if (quota === undefined || period === undefined || quota === 'max') return null;
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return null;
  return q / p;
}
