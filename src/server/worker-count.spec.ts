import { describe, expect, it } from 'vitest';
import { cpuQuota, resolveWorkers } from './worker-count.js';

/** A stand-in file system: the cgroup files given, every other path missing. */
function files(entries: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = entries[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };
}

describe('cpuQuota', () => {
  it('reads cgroup v2 cpu.max', () => {
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': '200000 100000\n' }))).toBe(2);
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }))).toBe(1.5);
  });
  it('says none for "max" or a malformed file', () => {
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBeNull();
    expect(cpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'garbage\n' }))).toBeNull();
    expect(cpuQuota(files({}))).toBeNull();
  });
  it('falls back to cgroup v1 (-1 = no quota)', () => {
    const v1 = (quota: string) =>
      files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': quota, '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' });
    expect(cpuQuota(v1('300000'))).toBe(3);
    expect(cpuQuota(v1('-1'))).toBeNull();
  });
});

describe('resolveWorkers', () => {
  it('keeps an explicit count', () => {
    expect(resolveWorkers(3, 16, 1)).toBe(3);
  });
  it('auto: the available CPUs, bounded by the quota rounded up', () => {
    expect(resolveWorkers('auto', 16, null)).toBe(16);
    expect(resolveWorkers('auto', 16, 2)).toBe(2);
    expect(resolveWorkers('auto', 16, 1.5)).toBe(2);
    expect(resolveWorkers('auto', 2, 8)).toBe(2);
    expect(resolveWorkers('auto', 4, 0.25)).toBe(1);
  });
});
