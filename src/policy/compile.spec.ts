import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';

/**
 * Compiled rules (compile.ts): the index keys a rule is filed under, and the Decision a rule makes. Rule semantics
 * from istio/api `security/v1beta1/authorization_policy.proto` (Rule: "some `from` matches AND some `to` matches"),
 * summarized in /work/shared/reference/istio-authorization.md.
 */

const A = 'spiffe://cluster.local/ns/foo/sa/a';
const B = 'spiffe://cluster.local/ns/foo/sa/b';
const C = 'spiffe://cluster.local/ns/foo/sa/c';

/** Enough other rules that the pooled DENY list is indexed (plan.ts indexes lists of 8 or more). */
const FILLERS = Array.from(
  { length: 8 },
  (_, i) => `  - from:\n    - source:\n        principals: ["cluster.local/ns/filler/sa/f${i}"]`,
).join('\n');

describe('index keys of a rule with several from/to entries', () => {
  it('a DENY rule whose from entries pin different principals denies each of them, and no one else', () => {
    const rule =
      '  - from:\n    - source:\n        principals: ["cluster.local/ns/foo/sa/a"]\n    - source:\n        principals: ["cluster.local/ns/foo/sa/b"]';
    const set = policySet(policy('DENY', `  rules:\n${FILLERS}\n${rule}`));
    const at = (p: string) => set.evaluate(WORKLOAD, req({ peer: peer(p) }));
    expect(at(A)).toMatchObject({ allowed: false, ruleIndex: 8 });
    expect(at(B)).toMatchObject({ allowed: false, ruleIndex: 8 });
    expect(at(C).allowed).toBe(true);
  });

  it('a DENY rule whose to entries pin different paths denies each of them, and no other path', () => {
    const paths = Array.from({ length: 8 }, (_, i) => `  - to:\n    - operation:\n        paths: ["/f${i}"]`);
    const rule = '  - to:\n    - operation:\n        paths: ["/a"]\n    - operation:\n        paths: ["/b"]';
    const set = policySet(policy('DENY', `  rules:\n${paths.join('\n')}\n${rule}`));
    const at = (path: string) => set.evaluate(WORKLOAD, req({ path }));
    expect(at('/a')).toMatchObject({ allowed: false, ruleIndex: 8 });
    expect(at('/b')).toMatchObject({ allowed: false, ruleIndex: 8 });
    expect(at('/c').allowed).toBe(true);
  });

  it('a from entry that pins no principal keeps the rule out of the index (it can match any peer)', () => {
    const rule =
      '  - from:\n    - source:\n        principals: ["cluster.local/ns/foo/sa/a"]\n    - source:\n        namespaces: ["foo"]';
    const set = policySet(policy('DENY', `  rules:\n${FILLERS}\n${rule}`));
    expect(set.evaluate(WORKLOAD, req({ peer: peer(C) })).allowed).toBe(false);
    expect(set.evaluate(WORKLOAD, req({ peer: peer('spiffe://cluster.local/ns/bar/sa/c') })).allowed).toBe(true);
  });
});

describe('the Decision a rule makes', () => {
  it('names the action, the policy, the rule and where the policy was loaded from', () => {
    const set = policySet(
      policy(
        'DENY',
        '  rules:\n  - to:\n    - operation:\n        paths: ["/x"]\n  - to:\n    - operation:\n        paths: ["/d"]',
      ) + policy('ALLOW', '  rules:\n  - {}'),
    );
    expect(set.evaluate(WORKLOAD, req({ path: '/d' })).reason).toMatch(
      /^denied by DENY policy foo\/deny rule 1 \(test\.yaml:\d+\)$/,
    );
    expect(set.evaluate(WORKLOAD, req({ path: '/a' })).reason).toMatch(
      /^allowed by ALLOW policy foo\/allow rule 0 \(test\.yaml:\d+\)$/,
    );
  });
});
