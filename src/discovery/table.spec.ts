import { describe, expect, it } from 'vitest';
import { type FlowObservation, FlowTable } from './table.js';

const T0 = Date.UTC(2026, 0, 1);

function obs(over: Partial<FlowObservation> = {}): FlowObservation {
  return {
    source: { spiffeId: 'spiffe://td/ns/a/sa/web', trustDomain: 'td', namespace: 'a', serviceAccount: 'web' },
    destination: { namespace: 'b', workload: 'api', labels: { app: 'api' } },
    port: 8080,
    method: 'GET',
    path: '/x',
    groups: [],
    outcome: 'allowed',
    shadowDenied: false,
    policy: 'b/allow',
    at: T0,
    ...over,
  };
}

describe('FlowTable', () => {
  it('counts, keeps first/last seen, groups and decisions per flow', () => {
    const t = new FlowTable();
    t.add(obs({ at: T0 + 5, groups: ['admins'] }));
    t.add(obs({ at: T0, outcome: 'denied', groups: ['admins', 'ops'] }));
    t.add(obs({ at: T0 + 9, outcome: 'wouldDeny' }));
    t.add(obs({ path: '/y' }));
    const [x] = t.snapshot().filter((r) => r.path === '/x');
    expect(t.size).toBe(2);
    expect(x).toMatchObject({
      count: 3,
      decisions: { allowed: 1, denied: 1, wouldDeny: 1 },
      groups: ['admins', 'ops'],
      firstSeen: new Date(T0).toISOString(),
      lastSeen: new Date(T0 + 9).toISOString(),
    });
  });

  it('writes deltas that add up to the totals', () => {
    const t = new FlowTable();
    t.add(obs());
    t.add(obs());
    expect(t.takeDelta().map((r) => r.count)).toEqual([2]);
    expect(t.takeDelta()).toEqual([]);
    t.add(obs({ at: T0 + 100, outcome: 'denied' }));
    const [d] = t.takeDelta();
    expect(d).toMatchObject({ count: 1, decisions: { allowed: 0, denied: 1, wouldDeny: 0 } });
    expect(d!.firstSeen).toBe(new Date(T0 + 100).toISOString());
  });

  it('coarsens an operation with too many paths, then evicts the least seen', () => {
    const t = new FlowTable({ maxFlows: 10, maxPathsPerOperation: 3 });
    for (const p of ['/a/1x', '/a/2x', '/b/1x']) t.add(obs({ path: p }));
    expect(t.size).toBe(3);
    t.add(obs({ path: '/c/1x' }));
    expect(
      t
        .snapshot()
        .map((r) => r.path)
        .sort(),
    ).toEqual(['/a/{**}', '/b/{**}', '/c/{**}']);
    expect(t.drops(T0).collapsedPaths).toBe(1);
    t.add(obs({ path: '/d/1x' }));
    expect(t.snapshot().map((r) => r.path)).toEqual(['/{**}']);
    expect(t.snapshot()[0]!.count).toBe(5);
    // Ten operations (one per source) fill the table; the eleventh evicts the least seen.
    for (let i = 0; i < 12; i++) {
      const source = {
        spiffeId: `spiffe://td/ns/n/sa/s${i}`,
        trustDomain: 'td',
        namespace: 'n',
        serviceAccount: `s${i}`,
      };
      t.add(obs({ source }));
    }
    expect(t.size).toBeLessThanOrEqual(10);
    expect(t.drops(T0).evictedFlows).toBeGreaterThan(0);
    // The busiest flow survives eviction.
    expect(t.snapshot().some((r) => r.path === '/{**}' && r.count === 5)).toBe(true);
  });

  it('caps groups per flow and counts what it drops', () => {
    const t = new FlowTable({ maxGroupsPerFlow: 2, maxGroupLength: 4 });
    t.add(obs({ groups: ['g1', 'g2', 'g3', 'longname'] }));
    expect(t.snapshot()[0]!.groups).toEqual(['g1', 'g2']);
    expect(t.drops(T0).droppedGroups).toBe(2);
  });
});
