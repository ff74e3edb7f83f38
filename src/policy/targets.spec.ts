import { describe, expect, it } from 'vitest';
import { policy, policySet, req } from '../../test/conformance/policy-fixtures.js';
import { formatExplanation } from './explain.js';
import { lintPolicies } from './lint.js';
import { parsePolicyText } from './parse.js';
import { canonicalGroup, isAllowedTargetKind, targetsWorkload } from './targets.js';
import type { WorkloadRef } from './types.js';

const GATEWAY_DENY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: gw-deny
  namespace: foo
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: ingress
  action: DENY
  rules:
  - {}
`;

describe('targetRef attachment', () => {
  const ingress = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'ingress' };

  it('reads the core group as "" or "core" and accepts only the kinds istiod accepts', () => {
    expect(canonicalGroup('')).toBe('core');
    expect(canonicalGroup(undefined)).toBe('core');
    expect(isAllowedTargetKind('', 'Service')).toBe(true);
    expect(isAllowedTargetKind('core', 'Service')).toBe(true);
    expect(isAllowedTargetKind('networking.istio.io', 'ServiceEntry')).toBe(true);
    expect(isAllowedTargetKind('', 'Gateway')).toBe(false);
    expect(isAllowedTargetKind('apps', 'Deployment')).toBe(false);
  });

  it('attaches only through a matching target in the policy namespace', () => {
    const w: WorkloadRef = { namespace: 'foo', labels: {}, targets: [ingress] };
    expect(targetsWorkload([ingress], 'foo', 'istio-system', w)).toBe(true);
    expect(targetsWorkload([ingress], 'bar', 'istio-system', w)).toBe(false);
    expect(targetsWorkload([{ ...ingress, name: 'egress' }], 'foo', 'istio-system', w)).toBe(false);
    expect(targetsWorkload([ingress], 'foo', 'istio-system', { namespace: 'foo', labels: {} })).toBe(false);
  });

  it('explain says why a targetRef policy did not apply', () => {
    const set = policySet(GATEWAY_DENY);
    const unknown = set.explain({ namespace: 'foo', labels: { app: 'a' } }, req());
    expect(unknown.decision.allowed).toBe(true);
    expect(unknown.notAttached.map((t) => [t.policy.name, t.targets])).toEqual([
      ['gw-deny', ['Gateway.gateway.networking.k8s.io/ingress']],
    ]);
    expect(formatExplanation(unknown)).toContain('not applied: this request is not known to be for any Service');
    const other = set.explain(
      { namespace: 'foo', labels: {}, targets: [{ group: '', kind: 'Service', name: 'a' }] },
      req(),
    );
    expect(formatExplanation(other)).toContain('this request is for Service/a, none of which this policy targets');
    const hit = set.explain({ namespace: 'foo', labels: {}, targets: [ingress] }, req());
    expect(hit.decision).toMatchObject({ allowed: false, code: 'deny_matched' });
    expect(hit.notAttached).toEqual([]);
    expect(hit.policies.map((p) => p.policy.name)).toEqual(['gw-deny']);
  });

  it('explain reports staged policies as one set per action', () => {
    const dry = { annotations: '    istio.io/dry-run: "true"' };
    const set = policySet(
      policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        paths: ["/a"]', { name: 'staged', ...dry }) +
        policy('ALLOW', '  rules:\n  - {}', { name: 'open' }),
    );
    const text = formatExplanation(set.explain({ namespace: 'foo', labels: { app: 'httpbin' } }, req({ path: '/b' })));
    expect(text).toContain('dry-run ALLOW set [foo/staged]: no staged rule matched; the staged set alone would DENY');
  });
});

describe('lint: serviceAccounts match any trust domain', () => {
  const lint = (rules: string) =>
    lintPolicies(parsePolicyText(policy('ALLOW', rules), 'p.yaml').policies).filter(
      (i) => i.code === 'service_account_any_trust_domain',
    );

  it('warns on serviceAccounts, notServiceAccounts and source.serviceAccount', () => {
    expect(lint('  rules:\n  - from:\n    - source:\n        serviceAccounts: ["ops/deployer"]')).toHaveLength(1);
    expect(lint('  rules:\n  - from:\n    - source:\n        notServiceAccounts: ["ops/deployer"]')).toHaveLength(1);
    const when = lint('  rules:\n  - when:\n    - key: source.serviceAccount\n      values: ["ops/deployer"]');
    expect(when.map((i) => i.path)).toEqual(['spec.rules[0].when[0]']);
    expect(when[0]?.message).toContain('ANY trust domain');
  });

  it('stays quiet when trustDomains pins the source, or when principals are used', () => {
    expect(
      lint(
        '  rules:\n  - from:\n    - source:\n        serviceAccounts: ["ops/deployer"]\n        trustDomains: ["cluster.local"]',
      ),
    ).toEqual([]);
    expect(
      lint('  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/ops/sa/deployer"]'),
    ).toEqual([]);
  });
});
