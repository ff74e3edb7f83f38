import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';

/**
 * Per-workload plans (plan.ts): pooled rules per action with the principal/path index, and the AUDIT list. Rules
 * come from /work/shared/reference/istio-authorization.md ("All rules of all policies with the same action are
 * pooled"; "AUDIT never changes the decision"), i.e. istio/istio `pilot/pkg/security/authz/builder/builder.go`.
 */

const A = 'spiffe://cluster.local/ns/foo/sa/a';
const B = 'spiffe://cluster.local/ns/foo/sa/b';

/** `n` filler rules that pin other principals and paths, so the pooled list is long enough to be indexed (≥ 8). */
function fillers(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      i % 2 === 0
        ? `  - from:\n    - source:\n        principals: ["cluster.local/ns/filler/sa/f${i}"]`
        : `  - to:\n    - operation:\n        paths: ["/filler${i}"]`,
    );
  }
  return out.join('\n');
}

describe('pooled DENY rules behind the index', () => {
  it('a later rule pinning the same principal still denies when an earlier one with that principal does not match', () => {
    // Rule 0 and rule 1 both pin principal A; rule 0 also needs /admin. Both must be reachable through the index.
    const rules = [
      '  - from:\n    - source:\n        principals: ["cluster.local/ns/foo/sa/a"]\n    to:\n    - operation:\n        paths: ["/admin"]',
      '  - from:\n    - source:\n        principals: ["cluster.local/ns/foo/sa/a"]\n    to:\n    - operation:\n        methods: ["DELETE"]',
      fillers(8),
    ].join('\n');
    const set = policySet(policy('DENY', `  rules:\n${rules}`));
    expect(set.planFor(WORKLOAD).deny.size).toBeGreaterThanOrEqual(8);
    const deny = (p: string, path: string, method = 'GET') =>
      set.evaluate(WORKLOAD, req({ peer: peer(p), path, method }));
    expect(deny(A, '/admin')).toMatchObject({ allowed: false, ruleIndex: 0 });
    expect(deny(A, '/other', 'DELETE')).toMatchObject({ allowed: false, code: 'deny_matched', ruleIndex: 1 });
    // The other sides: A without DELETE off /admin, and B, are not denied.
    expect(deny(A, '/other')).toMatchObject({ allowed: true });
    expect(deny(B, '/other', 'DELETE')).toMatchObject({ allowed: true });
    expect(deny(B, '/admin')).toMatchObject({ allowed: true });
  });

  it('a later rule pinning the same path still denies when an earlier one with that path does not match', () => {
    const rules = [
      '  - to:\n    - operation:\n        paths: ["/admin"]\n        methods: ["POST"]',
      '  - from:\n    - source:\n        notPrincipals: ["cluster.local/ns/foo/sa/a"]\n    to:\n    - operation:\n        paths: ["/admin"]',
      fillers(8),
    ].join('\n');
    const set = policySet(policy('DENY', `  rules:\n${rules}`));
    const deny = (p: string, method: string, path = '/admin') =>
      set.evaluate(WORKLOAD, req({ peer: peer(p), path, method }));
    expect(deny(A, 'POST')).toMatchObject({ allowed: false, ruleIndex: 0 });
    expect(deny(B, 'GET')).toMatchObject({ allowed: false, code: 'deny_matched', ruleIndex: 1 });
    expect(deny(A, 'GET')).toMatchObject({ allowed: true });
    expect(deny(B, 'GET', '/other')).toMatchObject({ allowed: true });
  });
});

describe('AUDIT results', () => {
  it('list only AUDIT policies, even when ALLOW and DENY policies match the same request', () => {
    const match = '  rules:\n  - to:\n    - operation:\n        paths: ["/x"]';
    const set = policySet(
      policy('ALLOW', match, { name: 'allow-x' }) +
        policy('DENY', '  rules:\n  - to:\n    - operation:\n        methods: ["DELETE"]', { name: 'deny-del' }) +
        policy('AUDIT', match, { name: 'audit-x' }),
    );
    expect(set.evaluate(WORKLOAD, req({ path: '/x' })).audit.map((a) => a.name)).toEqual(['audit-x']);
    const del = set.evaluate(WORKLOAD, req({ path: '/x', method: 'DELETE' }));
    expect(del).toMatchObject({ allowed: false, code: 'deny_matched' });
    expect(del.audit.map((a) => a.name)).toEqual(['audit-x']);
    expect(set.evaluate(WORKLOAD, req({ path: '/y' })).audit).toEqual([]);
  });
});
