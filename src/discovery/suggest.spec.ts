import { describe, expect, it } from 'vitest';
import { dnsLabel, suggestPolicies } from './suggest.js';
import type { FlowRecord } from './types.js';

function flow(over: Partial<FlowRecord> & { from?: string; to?: string; ns?: string }): FlowRecord {
  const [sns, ssa] = (over.from ?? 'shop/web').split('/') as [string, string];
  return {
    type: 'flow',
    source:
      over.from === ''
        ? { spiffeId: '', trustDomain: '', namespace: '', serviceAccount: '' }
        : {
            spiffeId: `spiffe://cluster.local/ns/${sns}/sa/${ssa}`,
            trustDomain: 'cluster.local',
            namespace: sns,
            serviceAccount: ssa,
          },
    destination: { namespace: over.ns ?? 'shop', workload: over.to ?? 'api', labels: { app: over.to ?? 'api' } },
    port: 8080,
    method: 'GET',
    path: '/x',
    groups: [],
    count: 1,
    decisions: { allowed: 1, denied: 0, wouldDeny: 0, shadowDenied: 0 },
    policy: '',
    firstSeen: '2026-01-01T00:00:00.000Z',
    lastSeen: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

describe('suggestPolicies', () => {
  it('never learns callers without identity, denied flows or excluded callers (unless asked)', () => {
    const flows = [
      flow({ from: '' }),
      flow({ from: 'x/stray', decisions: { allowed: 0, denied: 2, wouldDeny: 0, shadowDenied: 0 } }),
      flow({ from: 'ops/debug' }),
      flow({ from: 'shop/web' }),
    ];
    const s = suggestPolicies(flows, { granularity: 'workload', excludeSources: ['ops/*'] });
    expect(s.learned).toHaveLength(1);
    expect(s.skipped.map((x) => x.reason)).toEqual(['anonymous', 'denied', 'excluded']);
    const all = suggestPolicies(flows, { granularity: 'workload', learnDenied: true });
    expect(all.learned).toHaveLength(3);
  });

  it('a flow allowed only by global dry-run is not learned', () => {
    const s = suggestPolicies([flow({ decisions: { allowed: 0, denied: 0, wouldDeny: 5, shadowDenied: 0 } })], {
      granularity: 'operation',
    });
    expect(s.policies).toHaveLength(0);
    expect(s.skipped[0]!.reason).toBe('denied');
  });

  it('names policies as DNS labels and keeps them unique', () => {
    expect(dnsLabel('discovered-My_App.v2')).toBe('discovered-my-app-v2');
    expect(dnsLabel(`discovered-${'a'.repeat(80)}`)).toHaveLength(63);
    const flows = [
      flow({ to: 'api' }),
      {
        ...flow({ to: 'api' }),
        destination: { namespace: 'shop', workload: 'api', labels: { 'app.kubernetes.io/name': 'api' } },
      },
    ];
    const names = suggestPolicies(flows, { granularity: 'workload' }).policies.map((p) => p.policy.metadata.name);
    expect(new Set(names).size).toBe(2);
  });

  it('namespace granularity: one policy per destination namespace, one rule per calling namespace', () => {
    const s = suggestPolicies(
      [
        flow({ from: 'shop/web', to: 'api' }),
        flow({ from: 'shop/api', to: 'db' }),
        flow({ from: 'jobs/batch', to: 'api' }),
      ],
      { granularity: 'namespace' },
    );
    expect(s.policies).toHaveLength(1);
    expect(s.policies[0]!.policy.spec).toEqual({
      action: 'ALLOW',
      rules: [{ from: [{ source: { namespaces: ['jobs'] } }] }, { from: [{ source: { namespaces: ['shop'] } }] }],
    });
    expect(s.policies[0]!.covers.map((c) => c.length)).toEqual([1, 2]);
  });
});
