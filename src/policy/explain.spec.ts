import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import { explain, formatExplanation } from './explain.js';

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
    const e = explain(set, WORKLOAD, r);
    expect(e.decision).toEqual(set.evaluate(WORKLOAD, r));
    expect(e.decision.code).toBe('NO_ALLOW_MATCHED');
    expect(e.policies.map((p) => p.policy.name)).toEqual(['no-delete', 'callers']);
    const [r0, r1, r2] = e.policies[1]!.rules;
    expect(r0?.failure).toBe(
      'spec.rules[0].from[0].source.principals requires one of [cluster.local/ns/a/sa/b], but the peer is spiffe://cluster.local/ns/x/sa/y',
    );
    expect(r1?.failure).toContain("the normalized path is '/admin'");
    expect(r2?.failure).toContain('the request has no x-env header');
    const text = formatExplanation(e);
    expect(text).toContain('decision: DENY (NO_ALLOW_MATCHED): no ALLOW policy matched');
    expect(text).toContain('policy foo/callers at test.yaml:');
  });

  it('marks the rule that matched', () => {
    const e = explain(set, WORKLOAD, req({ path: '/public/x' }));
    expect(e.decision.allowed).toBe(true);
    expect(e.policies[1]!.rules[1]).toMatchObject({ index: 1, matched: true, failure: null });
    expect(formatExplanation(e)).toMatch(/rule 1 \(line \d+\): MATCHED/);
  });

  it('says when no policy selects the workload', () => {
    const e = explain(set, { namespace: 'elsewhere', labels: {} }, req());
    expect(formatExplanation(e)).toContain('no policy selects this workload');
  });
});
