import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req, user, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import { formatExplanation } from './explain.js';

describe('explain', () => {
  const set = policySet(
    policy('DENY', '  rules:\n  - to:\n    - operation:\n        methods: ["DELETE"]', { name: 'no-delete' }) +
      policy(
        'ALLOW',
        '  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/a/sa/b"]\n  - to:\n    - operation:\n        paths: ["/public/*"]\n  - when:\n    - key: request.headers[x-env]\n      values: ["prod"]',
        { name: 'callers' },
      ),
  );

  it('names, for each rule, the first condition that failed, and agrees with evaluate()', () => {
    const r = req({ path: '/admin', peer: peer('spiffe://cluster.local/ns/x/sa/y') });
    const e = set.explain(WORKLOAD, r);
    expect(e.decision).toEqual(set.evaluate(WORKLOAD, r));
    expect(e.decision.code).toBe('no_allow_matched');
    expect(e.policies.map((p) => p.policy.name)).toEqual(['no-delete', 'callers']);
    const [r0, r1, r2] = e.policies[1]!.rules;
    expect(r0?.failure).toBe(
      'spec.rules[0].from[0].source.principals requires one of [cluster.local/ns/a/sa/b], but the peer is spiffe://cluster.local/ns/x/sa/y',
    );
    expect(r1?.failure).toContain("the normalized path is '/admin'");
    expect(r2?.failure).toContain('the request has no x-env header');
    const text = formatExplanation(e);
    expect(text).toContain('decision: DENY (no_allow_matched): no ALLOW policy matched');
    expect(text).toContain('policy foo/callers at test.yaml:');
  });

  it('marks the rule that matched', () => {
    const e = set.explain(WORKLOAD, req({ path: '/public/x' }));
    expect(e.decision.allowed).toBe(true);
    expect(e.policies[1]!.rules[1]).toMatchObject({ index: 1, matched: true, failure: null });
    expect(formatExplanation(e)).toMatch(/rule 1 \(line \d+\): MATCHED/);
  });

  it('says when no policy selects the workload', () => {
    const e = set.explain({ namespace: 'elsewhere', labels: {} }, req());
    expect(formatExplanation(e)).toContain('no policy selects this workload');
  });

  it('names the end-user values that decided (the claim values, the audiences), not only who the user is', () => {
    const groups = policySet(
      policy(
        'ALLOW',
        '  rules:\n  - when:\n    - key: request.auth.claims[groups]\n      values: ["admins"]\n  - when:\n    - key: request.auth.audiences\n      values: ["shop"]\n  - from:\n    - source:\n        requestPrincipals: ["https://idp/bob"]',
        { name: 'admins' },
      ),
    );
    const alice = user('https://idp', 'alice', { groups: ['customers', 'beta'] }, { audiences: ['web'] });
    const e = groups.explain(WORKLOAD, req({ user: alice }));
    expect(e.decision.allowed).toBe(false);
    const [byGroup, byAudience, byPrincipal] = e.policies[0]!.rules;
    expect(byGroup?.failure).toBe(
      "spec.rules[0].when[0] (request.auth.claims[groups]) requires one of [admins], but the end user's groups claim is [customers, beta] (user https://idp/alice)",
    );
    expect(byAudience?.failure).toContain("but the token's audiences are [web] (user https://idp/alice)");
    expect(byPrincipal?.failure).toContain("but the end user's request principal is https://idp/alice");
    // A user without the claim is told so; a member of the group matches (both sides).
    const noClaim = groups.explain(WORKLOAD, req({ user: user('https://idp', 'carol') }));
    expect(noClaim.policies[0]!.rules[0]?.failure).toContain('the end user https://idp/carol has no groups claim');
    const admin = groups.explain(WORKLOAD, req({ user: user('https://idp', 'dan', { groups: ['admins'] }) }));
    expect(admin.decision.allowed).toBe(true);
    expect(admin.policies[0]!.rules[0]).toMatchObject({ matched: true, failure: null });
  });
});
