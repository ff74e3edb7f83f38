import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/policy/types.js';
import { type ConformanceCase, runCases, SRC_BUILDER, SRC_GENERATOR_130 } from './policy-cases.js';
import { policy, policySet, req, WORKLOAD } from './policy-fixtures.js';

/**
 * Two places where what matched is reported or read differently from the joined-up view: Istio's shadow rules for
 * staged (dry-run) policies, and `experimental.envoy.filters.*` list vs string values.
 */

// --- experimental.envoy.filters.*: `[v]` is "the list contains v", a plain `v` matches a string only.
const META = 'experimental.envoy.filters.network.mysql_proxy[db.table]';
const FILTER = 'envoy.filters.network.mysql_proxy';
const meta = (body: string) => policy('ALLOW', `  rules:\n  - when:\n    - key: ${META}\n      ${body}`);
const tables = (v: unknown) => req({ filterMetadata: { [FILTER]: { 'db.table': v } } });
const SRC_META = `${SRC_GENERATOR_130} (envoyFilterGenerator: ListMatch for [v], StringMatch otherwise)`;

const metadataCases: ConformanceCase[] = [
  {
    name: 'filters metadata [v]: a list containing v matches',
    source: SRC_META,
    policies: meta('values: ["[update]"]'),
    request: tables(['select', 'update']),
    allowed: true,
  },
  {
    name: 'filters metadata [v]: a string equal to v does not match (a list match needs a list)',
    source: SRC_META,
    policies: meta('values: ["[update]"]'),
    request: tables('update'),
    allowed: false,
  },
  {
    name: 'filters metadata plain v: a list containing v does not match',
    source: SRC_META,
    policies: meta('values: ["update"]'),
    request: tables(['update']),
    allowed: false,
  },
  {
    name: 'filters metadata plain v: a string equal to v matches',
    source: SRC_META,
    policies: meta('values: ["update"]'),
    request: tables('update'),
    allowed: true,
  },
  {
    name: 'filters metadata [prefix*]: string-match forms apply to the list elements',
    source: SRC_META,
    policies: meta('values: ["[upd*]"]'),
    request: tables(['select', 'update']),
    allowed: true,
  },
  {
    name: 'filters metadata notValues [v]: excludes a list containing v',
    source: SRC_META,
    policies: meta('notValues: ["[drop]"]'),
    request: tables(['select', 'drop']),
    allowed: false,
  },
];

describe('conformance: experimental.envoy.filters metadata', () => {
  runCases(metadataCases);
});

// --- Staged (dry-run) policies: each action's staged policies are a rule set of their own (Envoy RBAC
// shadow_rules beside rules), evaluated in the DENY filter and then the ALLOW filter.
const DRY = { annotations: '    istio.io/dry-run: "true"' };
const path = (p: string) => `  rules:\n  - to:\n    - operation:\n        paths: ["${p}"]`;
const SRC_DRY = `${SRC_BUILDER} (build: shadowRules); ${'istio/istio@1.30.3'} pilot/pkg/security/authz/builder/testdata/http/dry-run-mix-{in,out}.yaml`;
const SRC_ORDER = `${SRC_BUILDER} (build: AUDIT, DENY, then ALLOW filters)`;

const shadowOf = (d: Decision) => d.shadow.map((s) => [s.action, `${s.policy.name}#${s.ruleIndex}`, s.wouldAllow]);

describe('conformance: staged (dry-run) policies are reported as Istio shadow rules', () => {
  // The builder testdata: enforced ALLOW httpbin-2 (/another) and staged ALLOW httpbin-1 (/allow).
  const mix =
    policy('ALLOW', path('/allow'), { name: 'httpbin-1', ...DRY }) +
    policy('ALLOW', path('/another'), { name: 'httpbin-2' });

  it(`a staged ALLOW that does not match would deny, even though an enforced ALLOW admits the request [${SRC_DRY}]`, () => {
    const d = policySet(mix).evaluate(WORKLOAD, req({ path: '/another' }));
    expect(d).toMatchObject({ allowed: true, code: 'allow_matched' });
    expect(shadowOf(d)).toEqual([['ALLOW', 'httpbin-1#null', false]]);
  });

  it(`a staged ALLOW that matches would allow, while the enforced ALLOW denies [${SRC_DRY}]`, () => {
    const d = policySet(mix).evaluate(WORKLOAD, req({ path: '/allow' }));
    expect(d).toMatchObject({ allowed: false, code: 'no_allow_matched' });
    expect(shadowOf(d)).toEqual([['ALLOW', 'httpbin-1#0', true]]);
  });

  it(`a staged DENY that does not match would allow, even when the enforced decision is a deny [${SRC_DRY}]`, () => {
    const set = policySet(
      policy('DENY', path('/admin'), { name: 'staged-deny', ...DRY }) + policy('ALLOW', path('/x'), { name: 'only-x' }),
    );
    const d = set.evaluate(WORKLOAD, req({ path: '/y' }));
    expect(d).toMatchObject({ allowed: false, code: 'no_allow_matched' });
    expect(shadowOf(d)).toEqual([['DENY', 'staged-deny#null', true]]);
  });

  it(`when an enforced DENY rejects the request the ALLOW filter never runs: no ALLOW shadow result [${SRC_ORDER}]`, () => {
    const set = policySet(
      policy('DENY', path('/admin'), { name: 'no-admin' }) +
        policy('DENY', path('/admin'), { name: 'staged-deny', ...DRY }) +
        policy('ALLOW', path('/admin'), { name: 'staged-allow', ...DRY }),
    );
    const d = set.evaluate(WORKLOAD, req({ path: '/admin' }));
    expect(d).toMatchObject({ allowed: false, code: 'deny_matched' });
    expect(shadowOf(d)).toEqual([['DENY', 'staged-deny#0', false]]);
  });

  it(`staged policies of one action are one set: the effective policy is the one whose rule matched [${SRC_DRY}]`, () => {
    const set = policySet(
      policy('ALLOW', path('/a'), { name: 'staged-a', ...DRY }) +
        policy('ALLOW', path('/b'), { name: 'staged-b', ...DRY }),
    );
    const d = set.evaluate(WORKLOAD, req({ path: '/b' }));
    expect(d).toMatchObject({ allowed: true, code: 'no_allow_policy' });
    expect(shadowOf(d)).toEqual([['ALLOW', 'staged-b#0', true]]);
    expect(d.shadow[0]?.policies?.map((p) => p.name)).toEqual(['staged-a', 'staged-b']);
  });
});
