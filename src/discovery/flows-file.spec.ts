import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FlowFileError, readFlowFiles } from './flows-file.js';

const base = {
  type: 'flow',
  source: { spiffeId: 'spiffe://td/ns/a/sa/b', trustDomain: 'td', namespace: 'a', serviceAccount: 'b' },
  destination: { namespace: 'c', workload: 'd', labels: { app: 'd' } },
  port: 80,
  method: 'GET',
  path: '/x',
  groups: ['g1'],
  count: 2,
  decisions: { allowed: 2, denied: 0, wouldDeny: 0, shadowDenied: 0 },
  policy: 'c/p',
  firstSeen: '2026-01-02T00:00:00.000Z',
  lastSeen: '2026-01-02T00:00:00.000Z',
};

describe('readFlowFiles', () => {
  it('merges records from several files and windows by key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-'));
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    writeFileSync(a, `${JSON.stringify(base)}\n{"type":"drops","evictedFlows":3}\n\n{"type":"other"}\n`);
    const later = {
      ...base,
      groups: ['g2'],
      count: 1,
      decisions: { allowed: 0, denied: 1, wouldDeny: 0 },
      policy: 'c/q',
      firstSeen: '2026-01-01T00:00:00.000Z',
      lastSeen: '2026-01-03T00:00:00.000Z',
    };
    writeFileSync(b, `${JSON.stringify(later)}\n${JSON.stringify({ ...base, path: '/y' })}\n`);
    const set = await readFlowFiles([a, b]);
    expect(set.ignoredLines).toBe(1);
    expect(set.drops).toHaveLength(1);
    expect(set.flows).toHaveLength(2);
    expect(set.flows[0]).toMatchObject({
      count: 3,
      // A record from before shadowDenied existed reads as 0.
      decisions: { allowed: 2, denied: 1, wouldDeny: 0, shadowDenied: 0 },
      groups: ['g1', 'g2'],
      policy: 'c/q',
      firstSeen: '2026-01-01T00:00:00.000Z',
      lastSeen: '2026-01-03T00:00:00.000Z',
    });
  });

  it('names the file and line of a bad record, and a missing file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ff-'));
    const f = join(dir, 'bad.jsonl');
    writeFileSync(f, `${JSON.stringify(base)}\nnot json\n`);
    await expect(readFlowFiles([f])).rejects.toThrow(`${f}:2: not JSON`);
    writeFileSync(f, `${JSON.stringify({ ...base, port: 70000 })}\n`);
    await expect(readFlowFiles([f])).rejects.toThrow(`${f}:1: port:`);
    await expect(readFlowFiles([join(dir, 'missing')])).rejects.toBeInstanceOf(FlowFileError);
  });
});
