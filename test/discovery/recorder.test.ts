import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InMemoryLogRecordExporter } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { NOOP_SPAN } from '../../src/authz/seams.js';
import { createOtlpFlowSink } from '../../src/discovery/otlp.js';
import { FlowRecorder } from '../../src/discovery/recorder.js';
import type { FlowDropRecord, FlowRecord } from '../../src/discovery/types.js';
import { outcome, peer } from './outcomes.js';

const config = (file: string) => ({ enabled: true, maxFlows: 100, flushIntervalSeconds: 3600, file, otlpLogs: false });
const T0 = Date.UTC(2026, 0, 1);

function lines(file: string): Array<FlowRecord | FlowDropRecord> {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as FlowRecord | FlowDropRecord);
}

describe('FlowRecorder (monitor mode)', () => {
  it('records each decided Check as a templated flow and appends deltas as JSON Lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flows-'));
    const rec = new FlowRecorder(config('flows.jsonl'), { resolvePath: (p) => join(dir, p), now: () => T0 });
    const web = peer('shop', 'web');
    rec.onDecision(
      outcome({ from: web, ns: 'shop', app: 'api', path: '/orders/123?x=1', time: T0, groups: ['buyers'] }),
      NOOP_SPAN,
    );
    rec.onDecision(outcome({ from: web, ns: 'shop', app: 'api', path: '/orders/456', time: T0 + 1000 }), NOOP_SPAN);
    rec.onDecision(
      outcome({ from: null, ns: 'shop', app: 'api', path: '/admin', allowed: false, time: T0 }),
      NOOP_SPAN,
    );
    rec.onDecision(
      outcome({ from: peer('x', 'stray'), ns: 'shop', app: 'db', path: '/q', allowed: false, dryRun: true, time: T0 }),
      NOOP_SPAN,
    );
    rec.onDecision(outcome({ from: web, ns: 'shop', app: 'db', path: '/q', shadowDeny: true, time: T0 }), NOOP_SPAN);
    await rec.flush();
    // A second flush with nothing new writes nothing.
    await rec.flush();
    rec.onDecision(outcome({ from: web, ns: 'shop', app: 'api', path: '/orders/789', time: T0 + 5000 }), NOOP_SPAN);
    await rec.close();
    // After close, nothing is recorded.
    rec.onDecision(outcome({ from: web, ns: 'shop', app: 'api', path: '/late', time: T0 }), NOOP_SPAN);

    const all = lines(join(dir, 'flows.jsonl'));
    const flows = all.filter((r): r is FlowRecord => r.type === 'flow');
    expect(all.filter((r) => r.type === 'drops')).toHaveLength(2);
    const orders = flows.filter((f) => f.path === '/orders/{*}');
    expect(orders.map((f) => f.count)).toEqual([2, 1]);
    expect(orders[0]).toMatchObject({
      source: { spiffeId: 'spiffe://cluster.local/ns/shop/sa/web', namespace: 'shop', serviceAccount: 'web' },
      destination: { namespace: 'shop', workload: 'api', labels: { app: 'api' } },
      port: 8080,
      method: 'GET',
      groups: ['buyers'],
      decisions: { allowed: 2, denied: 0, wouldDeny: 0 },
      policy: 'shop/current',
      firstSeen: new Date(T0).toISOString(),
      lastSeen: new Date(T0 + 1000).toISOString(),
    });
    expect(flows.find((f) => f.path === '/admin')).toMatchObject({
      source: { spiffeId: '' },
      decisions: { denied: 1 },
    });
    // Global dry-run lets a denied request through: a would-be denial. A staged (dry-run annotated) policy's
    // verdict is kept apart: the enforced decision was an allow.
    const q = flows.filter((f) => f.path === '/q').map((f) => f.decisions);
    expect(q).toEqual([
      { allowed: 0, denied: 0, wouldDeny: 1, shadowDenied: 0 },
      { allowed: 1, denied: 0, wouldDeny: 0, shadowDenied: 1 },
    ]);
    expect(flows.some((f) => f.path === '/late')).toBe(false);
  });

  it('skips Checks the policy never saw and survives a bad file path', async () => {
    const errors: unknown[] = [];
    // A regular file where the folder should be: neither mkdir nor append can succeed.
    const notADir = join(mkdtempSync(join(tmpdir(), 'flows-')), 'file');
    writeFileSync(notADir, '');
    const rec = new FlowRecorder(config(join(notADir, 'flows.jsonl')), { onError: (e) => errors.push(e) });
    const o = outcome({ from: null, ns: 'a', app: 'b', path: '/' });
    rec.onDecision({ ...o, input: null, phase: 'input' }, NOOP_SPAN);
    expect(rec.table.size).toBe(0);
    rec.onDecision(o, NOOP_SPAN);
    await rec.close();
    expect(errors).toHaveLength(1);
    expect(['ENOTDIR', 'EEXIST']).toContain((errors[0] as NodeJS.ErrnoException).code);
  });

  it('creates the folder of the flows file', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'flows-')), 'new', 'dir', 'flows.jsonl');
    const rec = new FlowRecorder(config(file));
    rec.onDecision(outcome({ from: peer('a', 'b'), ns: 'c', app: 'd', path: '/' }), NOOP_SPAN);
    await rec.close();
    expect(lines(file)[0]).toMatchObject({ type: 'flow', path: '/' });
  });

  it('exports flushed flows as OTLP log records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flows-'));
    const exporter = new InMemoryLogRecordExporter();
    const sink = createOtlpFlowSink(exporter);
    const rec = new FlowRecorder({ ...config(join(dir, 'f.jsonl')), otlpLogs: true }, { sink });
    rec.onDecision(outcome({ from: peer('shop', 'web'), ns: 'shop', app: 'api', path: '/orders/1' }), NOOP_SPAN);
    await rec.flush();
    await sink.flush();
    const logs = exporter.getFinishedLogRecords();
    expect(logs).toHaveLength(1);
    expect(logs[0]!.body).toBe('shop/web -> shop/api GET /orders/{*}');
    expect(logs[0]!.attributes['destination.workload']).toBe('api');
    expect(logs[0]!.attributes['flow.count']).toBe(1);
    await rec.close();
  });
});
