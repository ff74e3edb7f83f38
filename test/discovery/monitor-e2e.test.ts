import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FlowRecorder } from '../../src/discovery/recorder.js';
import type { FlowRecord } from '../../src/discovery/types.js';
import { connect, httpCheck, startService } from '../support/harness.js';

/**
 * Monitor mode in the real service: the recorder registered as a DecisionObserver sees Checks made over gRPC and
 * writes them on shutdown.
 */
describe('monitor mode through the gRPC service', () => {
  it('records allowed and denied Checks and flushes them when the service closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'monitor-'));
    const discovery = { enabled: true, maxFlows: 100, flushIntervalSeconds: 60, file: 'flows.jsonl', otlpLogs: false };
    const recorder = new FlowRecorder(discovery, { resolvePath: (p) => join(dir, p) });
    const { service, addresses } = await startService({}, { observers: [recorder], onClosed: () => recorder.close() });
    const client = connect(addresses.grpc);
    try {
      for (const path of ['/allowed/1', '/allowed/2', '/api/orders/77?x=1', '/secret']) {
        await client.check(httpCheck(path));
      }
    } finally {
      client.close();
      await service.shutdown();
    }
    const flows = readFileSync(join(dir, 'flows.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as FlowRecord | { type: 'drops' })
      .filter((r): r is FlowRecord => r.type === 'flow');
    const byPath = Object.fromEntries(flows.map((f) => [f.path, f]));
    expect(Object.keys(byPath).sort()).toEqual(['/allowed/{*}', '/api/orders/{*}', '/secret']);
    expect(byPath['/allowed/{*}']).toMatchObject({ count: 2, method: 'GET', port: 8080, decisions: { allowed: 2 } });
    expect(byPath['/secret']!.decisions).toMatchObject({ allowed: 0, denied: 1 });
    expect(byPath['/secret']!.destination.namespace).toBe('shop');
  });
});
