import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import { NO_ATTRIBUTES } from './types.js';

describe('PolicySet', () => {
  it('reports dry-run policies as shadow results without enforcing them', () => {
    const set = policySet(
      policy('DENY', '  rules:\n  - to:\n    - operation:\n        methods: ["DELETE"]', {
        name: 'dry-deny',
        annotations: '    istio.io/dry-run: "true"',
      }) +
        policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        methods: ["GET"]', {
          name: 'dry-allow',
          annotations: '    istio.io/dry-run: "true"',
        }),
    );
    const del = set.evaluate(WORKLOAD, req({ method: 'DELETE' }));
    expect(del).toMatchObject({ allowed: true, code: 'no_allow_policy' });
    expect(del.shadow.map((s) => [s.action, s.policy.name, s.ruleIndex, s.wouldAllow])).toEqual([
      ['DENY', 'dry-deny', 0, false],
      ['ALLOW', 'dry-allow', null, false],
    ]);
    const get = set.evaluate(WORKLOAD, req({ method: 'GET' }));
    expect(get.shadow.map((s) => [s.action, s.policy.name, s.ruleIndex, s.wouldAllow])).toEqual([
      ['DENY', 'dry-deny', null, true],
      ['ALLOW', 'dry-allow', 0, true],
    ]);
  });

  it('lists matching AUDIT policies and leaves the decision alone', () => {
    const set = policySet(
      policy('AUDIT', '  rules:\n  - to:\n    - operation:\n        paths: ["/audited"]', { name: 'aud' }),
    );
    expect(set.evaluate(WORKLOAD, req({ path: '/audited' })).audit.map((a) => a.name)).toEqual(['aud']);
    expect(set.evaluate(WORKLOAD, req({ path: '/other' })).audit).toEqual([]);
  });

  it('attributesFor lists exactly what the selecting policies read', () => {
    const set = policySet(
      policy(
        'ALLOW',
        '  rules:\n  - from:\n    - source:\n        principals: ["a"]\n    to:\n    - operation:\n        notPaths: ["/x"]\n    when:\n    - key: request.headers[X-Env]\n      values: ["p"]',
      ) +
        policy('CUSTOM', '  provider:\n    name: ext\n  rules:\n  - to:\n    - operation:\n        hosts: ["h"]', {
          name: 'custom',
        }),
    );
    expect(set.attributesFor(WORKLOAD)).toEqual({ ...NO_ATTRIBUTES, path: true, peer: true, headers: ['x-env'] });
    expect(set.attributesFor({ namespace: 'other', labels: {} }).path).toBe(false);
  });

  it('a path that cannot be normalized is an invalid request only when the path is read', () => {
    const reads = policySet(policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        paths: ["/a"]'));
    expect(reads.evaluate(WORKLOAD, req({ path: '/a%00' })).code).toBe('invalid_request');
    const ignores = policySet(policy('ALLOW', '  rules:\n  - {}'));
    expect(ignores.evaluate(WORKLOAD, req({ path: '/a%00' })).code).toBe('allow_matched');
  });

  it('the principal/path index gives the same first rule as a plain scan in policy order', () => {
    const rules: string[] = [];
    for (let i = 0; i < 40; i++) {
      if (i % 3 === 0)
        rules.push(`  - from:\n    - source:\n        principals: ["cluster.local/ns/n${i % 5}/sa/s${i % 7}"]`);
      else if (i % 3 === 1) rules.push(`  - to:\n    - operation:\n        paths: ["/p${i % 6}"]`);
      else rules.push(`  - to:\n    - operation:\n        methods: ["M${i % 4}"]`);
    }
    const set = policySet(policy('ALLOW', `  rules:\n${rules.join('\n')}`));
    const plan = set.planFor(WORKLOAD);
    for (let n = 0; n < 5; n++) {
      for (let s = 0; s < 7; s++) {
        for (let p = 0; p < 6; p++) {
          for (let m = 0; m < 4; m++) {
            const r = req({ peer: peer(`spiffe://cluster.local/ns/n${n}/sa/s${s}`), path: `/p${p}`, method: `M${m}` });
            const first = plan.allow.rules.findIndex((rule) => {
              const pr = rule.principalKeys;
              const pk = rule.pathKeys;
              if (pr) return pr.includes(r.peer!.spiffeId);
              if (pk) return pk.includes(r.path);
              return rule.to?.[0]?.[0]?.values.includes(r.method) ?? false;
            });
            expect(set.evaluate(WORKLOAD, r).ruleIndex).toBe(first < 0 ? null : first);
          }
        }
      }
    }
  });

  it('keeps the generation and the loaded policies', () => {
    const set = policySet(policy('ALLOW', '  rules:\n  - {}'), {}, 7);
    expect(set.generation).toBe(7);
    expect(set.policies).toHaveLength(1);
    expect(set.policiesFor(WORKLOAD).map((p) => p.policy.metadata.name)).toEqual(['allow']);
    expect(set.options.pathNormalization).toBe('BASE');
  });
});
