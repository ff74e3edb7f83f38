import { describe, expect, it } from 'vitest';
import { containerMemoryLimit, heapLimitWarning } from './memory-limit.js';

const MiB = 1048576;
const files = (map: Record<string, string>) => (path: string) => {
  const text = map[path];
  if (text === undefined) throw new Error('ENOENT');
  return text;
};

describe('container memory limit', () => {
  it('reads cgroup v2, then v1; "max" and v1 unlimited mean no limit', () => {
    expect(containerMemoryLimit(files({ '/sys/fs/cgroup/memory.max': `${512 * MiB}\n` }))).toBe(512 * MiB);
    expect(containerMemoryLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' }))).toBeNull();
    expect(containerMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': `${256 * MiB}` }))).toBe(
      256 * MiB,
    );
    expect(containerMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' }))).toBe(
      null,
    );
    expect(containerMemoryLimit(files({}))).toBeNull();
  });

  it('warns when the heap limit exceeds 90% of the container limit, and not when it fits', () => {
    const warning = heapLimitWarning(512 * MiB, 4096 * MiB);
    expect(warning).toContain('--max-old-space-size=384');
    expect(heapLimitWarning(512 * MiB, 432 * MiB)).toBeNull();
    expect(heapLimitWarning(null, 4096 * MiB)).toBeNull();
  });

  it('shares the limit between worker processes: two heaps that each fit alone do not fit together', () => {
    // 2 × 432 MB (--max-old-space-size=384) in a 512Mi container: each fits alone, not both.
    expect(heapLimitWarning(512 * MiB, 432 * MiB, 1)).toBeNull();
    const warning = heapLimitWarning(512 * MiB, 432 * MiB, 2);
    expect(warning).toContain('each of 2 worker processes');
    expect(warning).toContain('--max-old-space-size=192');
    expect(heapLimitWarning(1024 * MiB, 432 * MiB, 2)).toBeNull();
  });
});
