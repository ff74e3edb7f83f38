import { beforeAll, describe, expect, it } from 'vitest';
import { allowAnythingKind, audit } from '../../src/discovery/audit.js';
import { policyEngine } from '../../src/discovery/engine.js';
import type { PolicyEntry } from '../../src/discovery/policy-model.js';
import { DEFAULT_REACH_OPTIONS } from '../../src/discovery/reach.js';
import type { FlowRecord } from '../../src/discovery/types.js';
import { currentPolicies, recordShop, workloads } from './shop.js';

const compile = { ...DEFAULT_REACH_OPTIONS, pathNormalization: 'BASE' as const };
const NOW = Date.UTC(2026, 5, 1); // frozen: 137 days after the db lockdown was staged

const meshWideOpen: PolicyEntry = {
  policy: {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'allow-all', namespace: 'istio-system' },
    spec: { action: 'ALLOW', rules: [{}] },
  },
  source: { file: 'mesh.yaml', line: 3 },
  dryRun: false,
};

let flows: FlowRecord[];
beforeAll(async () => {
  ({ flows } = await recordShop());
});

function run(policies: readonly PolicyEntry[], withFlows = true, maxDryRunDays = 14) {
  const set = policyEngine.compile(policies, compile);
  return audit({
    policies,
    workloads,
    flows: withFlows ? flows : null,
    evaluate: (w, r) => set.evaluate(w, r),
    reach: DEFAULT_REACH_OPTIONS,
    now: NOW,
    maxDryRunDays,
    minCoverage: 0.9,
  });
}

describe('audit on the shop', () => {
  it('measures coverage over the known workloads', () => {
    const r = run(currentPolicies);
    expect(r.coverage).toEqual({ workloads: 5, covered: 3, ratio: 0.6, uncovered: ['jobs/batch', 'sandbox/stray'] });
    expect(r.passed).toBe(false);
    // A mesh-wide allow-everything policy covers every workload, and is flagged for what it is.
    const open = run([...currentPolicies, meshWideOpen]);
    expect(open.coverage.ratio).toBe(1);
    expect(open.allowAnything).toEqual([
      {
        policy: 'istio-system/allow-all',
        ruleIndex: 0,
        kind: 'any-request',
        dryRun: false,
        meshWide: true,
        location: 'mesh.yaml:3',
      },
    ]);
  });

  it('measures how long a policy has been in dry-run, from a frozen clock', () => {
    expect(run(currentPolicies).longDryRun).toEqual([
      { policy: 'shop/db-lockdown', since: '2026-01-15T00:00:00Z', days: 137, tooLong: true },
    ]);
    expect(run(currentPolicies, true, 200).longDryRun[0]!.tooLong).toBe(false);
  });

  it('finds rules no observed flow exercised (dry-run matches count as exercised)', () => {
    expect(run(currentPolicies).unusedRules).toEqual([{ policy: 'shop/shop-namespaces', ruleIndex: 3 }]);
    expect(run(currentPolicies, false).unusedRules).toBeNull();
  });

  it('lists workloads that accept callers from other namespaces', () => {
    const x = run(currentPolicies).crossNamespace;
    expect(x.find((w) => w.workload === 'shop/api')).toEqual({
      workload: 'shop/api',
      openToAnyNamespace: false,
      admits: ['istio-system/istio-ingressgateway', 'jobs/batch'],
      observed: ['jobs/batch'],
    });
    // The db admits other namespaces on paper (the namespace rules), though only `shop` was seen calling it.
    expect(x.find((w) => w.workload === 'shop/db')).toMatchObject({ openToAnyNamespace: false, observed: [] });
    // No policy at all: open to anyone.
    expect(x.find((w) => w.workload === 'jobs/batch')!.openToAnyNamespace).toBe(true);
  });
});

describe('allowAnythingKind', () => {
  it.each([
    [{}, 'any-request'],
    [{ to: [{ operation: { methods: ['GET'] } }] }, 'any-caller'],
    [{ from: [{ source: { principals: ['*'] } }] }, 'any-identity'],
    [{ from: [{ source: { namespaces: ['*'] } }] }, 'any-identity'],
    [{ from: [{ source: { namespaces: ['shop'] } }] }, null],
    // Who may call is the open part, whatever the operations or conditions (as `any-caller` with `to`).
    [{ from: [{ source: { principals: ['*'] } }], to: [{ operation: { paths: ['/health'] } }] }, 'any-identity'],
    [
      { from: [{ source: { principals: ['*'] } }], when: [{ key: 'request.headers[x]', values: ['1'] }] },
      'any-identity',
    ],
    // Values of one field are ORed: `*` among them admits anyone.
    [{ from: [{ source: { principals: ['cluster.local/ns/a/sa/b', '*'] } }] }, 'any-identity'],
    [
      { from: [{ source: { principals: ['cluster.local/ns/a/sa/b'] } }, { source: { namespaces: ['*'] } }] },
      'any-identity',
    ],
    // Another field narrows it: not flagged.
    [{ from: [{ source: { principals: ['*'], namespaces: ['shop'] } }] }, null],
    [{ from: [{ source: { principals: ['*'], notPrincipals: ['cluster.local/ns/x/sa/y'] } }] }, null],
  ])('%j → %s', (rule, kind) => {
    expect(allowAnythingKind(rule)).toBe(kind);
  });
});
