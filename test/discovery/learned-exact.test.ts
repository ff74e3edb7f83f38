import { describe, expect, it } from 'vitest';
import { flowRequest, workloadOf } from '../../src/discovery/attributes.js';
import { policyEngine } from '../../src/discovery/engine.js';
import { observe } from '../../src/discovery/observe.js';
import { resolveDestination, suggestPolicies } from '../../src/discovery/suggest.js';
import { FlowTable } from '../../src/discovery/table.js';
import { isLearnablePath, pathTemplate } from '../../src/discovery/template.js';
import type { FlowRecord } from '../../src/discovery/types.js';
import { PATH_NORMALIZATIONS, type PathNormalization } from '../../src/policy/normalize.js';
import { outcome, peer } from './outcomes.js';

/**
 * A learned policy allows exactly what was seen: every request monitor mode recorded as allowed is allowed by the
 * suggestion, under the same path normalization the mesh uses (all four of Istio's options), and a destination
 * whose workload cannot be named by a selector gets no policy at all (never a namespace-wide one).
 */

const compile = (mode: PathNormalization) => ({
  rootNamespace: 'istio-system',
  pathNormalization: mode,
  trustDomain: 'cluster.local',
  trustDomainAliases: [],
});

/** Raw `:path` values as Envoy hands them to ext_authz (before any normalization). */
const RAW_PATHS = [
  '/v1/jobs/5',
  '//v1/jobs/5',
  '/v1//jobs/5',
  '/v1/jobs//5',
  '/v1/./jobs/5',
  '/v1/x/../jobs/5',
  '/v1/jobs/%35',
  '/v1%2Fjobs/5',
  '/v1/%2e%2e/jobs/5',
  '/v1/jobs/5/',
  '/v1/jobs/5?x=1',
  '/v1\\jobs\\5',
  '/v1/jobs/5/..',
  '/',
];

function learnedFrom(rawPaths: readonly string[], mode: PathNormalization): FlowRecord[] {
  const table = new FlowTable();
  for (const path of rawPaths) {
    const o = observe(outcome({ from: peer('shop', 'web'), ns: 'shop', app: 'jobs', path }), mode);
    if (o !== null) table.add(o);
  }
  return table.snapshot();
}

describe.each(PATH_NORMALIZATIONS)('paths learned under %s normalization', (mode) => {
  it('the suggestion allows every recorded request, with the raw path the engine saw', () => {
    const flows = learnedFrom(RAW_PATHS, mode);
    const s = suggestPolicies(flows, { granularity: 'operation' });
    expect(s.skipped).toEqual([]);
    for (const p of s.policies) expect(policyEngine.validatePolicy(p.policy, null)).toEqual([]);
    const set = policyEngine.compile(
      s.policies.map((p) => ({ policy: p.policy, source: null, dryRun: false })),
      compile(mode),
    );
    const f = flows[0]!;
    for (const raw of RAW_PATHS) {
      const request = { ...flowRequest(f), path: raw };
      expect(set.evaluate(workloadOf(f), request).allowed, `${mode} ${raw}`).toBe(true);
    }
    // ... and nothing else: another path, or the same one under another method, stays denied.
    expect(set.evaluate(workloadOf(f), { ...flowRequest(f), path: '/admin' }).allowed).toBe(false);
    expect(set.evaluate(workloadOf(f), { ...flowRequest(f), method: 'DELETE', path: '/v1/jobs/5' }).allowed).toBe(
      false,
    );
  });
});

describe('path templates per normalization', () => {
  it.each([
    ['//v1/jobs/5', 'NONE', '//v1/jobs/5'],
    ['//v1/jobs/5', 'BASE', '//v1/jobs/5'],
    ['//v1/jobs/5', 'MERGE_SLASHES', '/v1/jobs/{*}'],
    ['//v1/jobs/5', 'DECODE_AND_MERGE_SLASHES', '/v1/jobs/{*}'],
    ['/v1/./jobs/5', 'NONE', '/v1/./jobs/5'],
    ['/v1/./jobs/5', 'BASE', '/v1/jobs/{*}'],
    ['/v1%2Fjobs/5', 'BASE', '/{*}/{*}'],
    ['/v1%2Fjobs/5', 'DECODE_AND_MERGE_SLASHES', '/v1/jobs/{*}'],
  ] as const)('%s under %s → %s', (raw, mode, want) => {
    expect(pathTemplate(raw, mode)).toBe(want);
  });

  it('only paths a policy can hold exactly are learnable', () => {
    for (const ok of ['/', '/a/', '/a/{*}', '/a/{**}', '//a/b', '/a/./b', '/a/b%2F'])
      expect(isLearnablePath(ok)).toBe(true);
    for (const bad of ['a', '/a*', '*/a', '/a/{x}', '//a/{*}', '/{**}/a', '/a/./{*}']) {
      expect(isLearnablePath(bad), bad).toBe(false);
    }
  });
});

function flowTo(labels: Record<string, string>, workload: string, from = 'web'): FlowRecord {
  return {
    type: 'flow',
    source: {
      spiffeId: `spiffe://cluster.local/ns/shop/sa/${from}`,
      trustDomain: 'cluster.local',
      namespace: 'shop',
      serviceAccount: from,
    },
    destination: { namespace: 'shop', workload, labels },
    port: 8080,
    method: 'GET',
    path: '/',
    groups: [],
    count: 3,
    decisions: { allowed: 3, denied: 0, wouldDeny: 0, shadowDenied: 0 },
    policy: '',
    firstSeen: '2026-06-01T00:00:00.000Z',
    lastSeen: '2026-06-01T00:00:00.000Z',
  };
}

describe('destinations without a naming label', () => {
  const flows = [
    flowTo({ app: 'api' }, 'api'),
    flowTo({}, '*', 'batch'),
    flowTo({ tier: 'cache', version: 'v1' }, 'cache', 'cron'),
  ];

  it.each(['workload', 'operation'] as const)(
    '%s: no policy without a selector; the rest is reported',
    (granularity) => {
      const s = suggestPolicies(flows, { granularity });
      expect(s.policies.map((p) => p.policy.spec.selector?.matchLabels)).toEqual([{ app: 'api' }]);
      expect(s.skipped.map((x) => [x.flow.source.serviceAccount, x.reason])).toEqual([
        ['batch', 'unresolved'],
        ['cron', 'unresolved'],
      ]);
      // The namespace's other workloads are not opened to web.
      const set = policyEngine.compile(
        s.policies.map((p) => ({ policy: p.policy, source: null, dryRun: false })),
        compile('BASE'),
      );
      expect(set.evaluate({ namespace: 'shop', labels: { app: 'api' } }, flowRequest(flows[0]!)).allowed).toBe(true);
      expect(set.evaluate({ namespace: 'shop', labels: { app: 'db' } }, flowRequest(flows[0]!)).allowed).toBe(true);
    },
  );

  it('known workloads (the config, or a registry) resolve a destination when exactly one matches', () => {
    const known = [
      { namespace: 'shop', labels: { app: 'cache', tier: 'cache', version: 'v1' } },
      { namespace: 'shop', labels: { app: 'db', tier: 'data', version: 'v1' } },
    ];
    expect(resolveDestination(flows[2]!.destination, known)).toEqual({
      namespace: 'shop',
      workload: 'cache',
      labels: { app: 'cache' },
    });
    // Two candidates, or nothing recorded at all: a guess, so unresolved.
    expect(resolveDestination({ namespace: 'shop', workload: 'v1', labels: { version: 'v1' } }, known)).toBeNull();
    expect(resolveDestination(flows[1]!.destination, known)).toBeNull();
    const s = suggestPolicies(flows, { granularity: 'workload', workloads: known });
    expect(s.policies.map((p) => p.policy.spec.selector?.matchLabels)).toEqual([{ app: 'api' }, { app: 'cache' }]);
    expect(s.skipped.map((x) => x.reason)).toEqual(['unresolved']);
  });

  it('namespace granularity is namespace-wide by choice, and still learns them', () => {
    const s = suggestPolicies(flows, { granularity: 'namespace' });
    expect(s.skipped).toEqual([]);
    expect(s.policies).toHaveLength(1);
  });
});
