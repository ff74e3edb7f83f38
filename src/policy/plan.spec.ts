import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import type { CompiledRule } from './compile.js';
import { RuleList } from './plan.js';

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

/**
 * Stand-in rules (not compiled from a policy): one `from` clause whose only check records that it was tested and
 * matches when `hit` says so, filed under the given principal or path. Enough for RuleList, which reads only
 * `from`/`to`/`when` and the index keys.
 */
function standIn(
  i: number,
  keys: { principal?: string; path?: string },
  tested: number[],
  hit: (i: number) => boolean,
): CompiledRule {
  const check = {
    test: () => {
      tested.push(i);
      return hit(i);
    },
  };
  return {
    index: i,
    from: [[check]],
    to: null,
    when: [],
    principalKeys: keys.principal === undefined ? null : [keys.principal],
    pathKeys: keys.path === undefined ? null : [keys.path],
  } as unknown as CompiledRule;
}

describe('the index: which rules a lookup tests', () => {
  const at = (id: string) => req({ peer: peer(id) });
  const pid = (i: number) => `spiffe://cluster.local/ns/idx/sa/s${i}`;

  it('a list of 8 rules pinned to principals tests only the rules filed under the peer (the index is on)', () => {
    const tested: number[] = [];
    const list = new RuleList(
      Array.from({ length: 8 }, (_, i) => standIn(i, { principal: pid(i) }, tested, () => true)),
    );
    expect(list.firstMatch(at(pid(5)), '/')?.index).toBe(5);
    expect(tested).toEqual([5]);
    // A peer no rule pins: nothing tested, no match.
    tested.length = 0;
    expect(list.firstMatch(at(pid(99)), '/')).toBeNull();
    expect(tested).toEqual([]);
  });

  it('a list of 8 rules pinned to paths tests only the rules filed under the path', () => {
    const tested: number[] = [];
    const list = new RuleList(Array.from({ length: 8 }, (_, i) => standIn(i, { path: `/p${i}` }, tested, () => true)));
    expect(list.firstMatch(at(pid(0)), '/p6')?.index).toBe(6);
    expect(tested).toEqual([6]);
  });

  it('a list shorter than 8 is scanned in order: every rule before the match is tested', () => {
    const tested: number[] = [];
    const list = new RuleList(
      Array.from({ length: 7 }, (_, i) => standIn(i, { principal: pid(i) }, tested, (j) => j === 4)),
    );
    expect(list.firstMatch(at(pid(4)), '/')?.index).toBe(4);
    expect(tested).toEqual([0, 1, 2, 3, 4]);
  });

  it('principal, path and unpinned rules together still give the first match in policy order', () => {
    const tested: number[] = [];
    const rules = [
      standIn(0, { path: '/p' }, tested, () => false),
      standIn(1, {}, tested, () => false),
      standIn(2, { principal: pid(2) }, tested, () => true),
      standIn(3, { path: '/p' }, tested, () => true),
      standIn(4, {}, tested, () => true),
      ...Array.from({ length: 5 }, (_, i) => standIn(5 + i, { principal: pid(9) }, tested, () => true)),
    ];
    const list = new RuleList(rules);
    expect(list.firstMatch(at(pid(2)), '/p')?.index).toBe(2);
    expect(list.firstMatch(at(pid(7)), '/p')?.index).toBe(3);
    expect(list.firstMatch(at(pid(7)), '/q')?.index).toBe(4);
  });
});

describe('what a plan lists', () => {
  it('shadow lists the dry-run policies only; enforced ALLOW, DENY and AUDIT policies are not in it', () => {
    const dry = '    istio.io/dry-run: "true"';
    const rules = '  rules:\n  - {}';
    const set = policySet(
      policy('ALLOW', rules, { name: 'allow' }) +
        policy('DENY', '  rules:\n  - to:\n    - operation:\n        paths: ["/d"]', { name: 'deny' }) +
        policy('AUDIT', rules, { name: 'audit' }) +
        policy('DENY', rules, { name: 'staged-deny', annotations: dry }),
    );
    const plan = set.planFor(WORKLOAD);
    expect(plan.shadow.map((p) => p.ref.name)).toEqual(['staged-deny']);
    expect(plan.shadowDeny.map((p) => p.ref.name)).toEqual(['staged-deny']);
    expect(plan.shadowAllow).toEqual([]);
    const none = policySet(policy('ALLOW', rules, { name: 'allow' }) + policy('AUDIT', rules, { name: 'audit' }));
    expect(none.planFor(WORKLOAD).shadow).toEqual([]);
    expect(none.evaluate(WORKLOAD, req()).shadow).toEqual([]);
  });

  it('the headers a plan reads are listed once each, sorted, whatever order the rules name them in', () => {
    const when = (h: string) => `  - when:\n    - key: request.headers[${h}]\n      values: ["1"]`;
    const set = policySet(policy('ALLOW', `  rules:\n${when('x-b')}\n${when('X-A')}\n${when('x-c')}\n${when('x-b')}`));
    expect(set.attributesFor(WORKLOAD).headers).toEqual(['x-a', 'x-b', 'x-c']);
  });
});
