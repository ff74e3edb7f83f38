import { describe, expect, it } from 'vitest';
import { policy, policySet } from '../../test/conformance/policy-fixtures.js';
import { lintPolicies } from './lint.js';
import { parsePolicyText } from './parse.js';

function lint(yaml: string, options = {}) {
  return lintPolicies(parsePolicyText(yaml, 'l.yaml').policies, options).map((i) => [i.code, i.path]);
}

describe('lintPolicies', () => {
  it('warns about an ALLOW that allows everything', () => {
    expect(lint(policy('ALLOW', '  rules:\n  - {}'))).toContainEqual(['allow_all', 'spec.rules[0]']);
  });

  it('warns about principals written with spiffe://', () => {
    expect(
      lint(
        policy('ALLOW', '  rules:\n  - from:\n    - source:\n        principals: ["spiffe://cluster.local/ns/a/sa/b"]'),
      ),
    ).toContainEqual(['spiffe_prefix', 'spec.rules[0].from[0].source.principals[0]']);
  });

  it('warns about HTTP-only fields on a TCP port', () => {
    expect(
      lint(policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        ports: ["3306"]\n        methods: ["GET"]')),
    ).toContainEqual(['http_fields_on_tcp', 'spec.rules[0].to[0].operation']);
  });

  it('warns about DENY paths and ALLOW notPaths under a normalization that leaves bypasses', () => {
    const deny = policy('DENY', '  rules:\n  - to:\n    - operation:\n        paths: ["/admin"]');
    expect(lint(deny)).toContainEqual(['path_bypass', 'spec.rules[0].to[0].operation.paths']);
    expect(lint(deny, { pathNormalization: 'DECODE_AND_MERGE_SLASHES' })).toEqual([]);
    const allow = policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        paths: ["/public/*"]');
    expect(lint(allow)).toEqual([]);
    expect(lint(allow, { pathNormalization: 'NONE' })).toContainEqual([
      'path_bypass',
      'spec.rules[0].to[0].operation.paths',
    ]);
  });

  it('reports the line of the field it warns about', () => {
    const issues = lintPolicies(
      parsePolicyText(policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        hosts: ["a.com"]'), 'l.yaml')
        .policies,
    );
    expect(issues[0]).toMatchObject({ code: 'host_without_port', line: 14 });
  });

  it('warns about hosts without their :port variant', () => {
    expect(lint(policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        hosts: ["a.com"]'))).toContainEqual([
      'host_without_port',
      'spec.rules[0].to[0].operation.hosts[0]',
    ]);
    expect(lint(policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        hosts: ["a.com", "a.com:*"]'))).toEqual(
      [],
    );
  });

  it('finds rules shadowed by an earlier rule', () => {
    const yaml = policy(
      'DENY',
      '  rules:\n  - from:\n    - source:\n        namespaces: ["a", "b"]\n  - from:\n    - source:\n        namespaces: ["a"]\n    to:\n    - operation:\n        methods: ["GET"]\n  - from:\n    - source:\n        namespaces: ["c"]',
    );
    expect(lint(yaml)).toEqual([['shadowed_rule', 'spec.rules[1]']]);
  });

  it('with a workload list: selectors matching nothing and uncovered workloads', () => {
    const workloads = [
      { namespace: 'foo', labels: { app: 'httpbin' } },
      { namespace: 'bar', labels: { app: 'db' } },
    ];
    const yaml =
      policy('ALLOW', '  rules:\n  - from:\n    - source:\n        namespaces: ["x"]') +
      policy('DENY', '  selector:\n    matchLabels:\n      app: ghost\n  rules:\n  - {}', {
        selector: false,
        name: 'ghost',
      });
    const out = lint(yaml, { workloads });
    expect(out).toContainEqual(['selector_matches_nothing', 'spec.selector.matchLabels']);
    expect(out).toContainEqual(['uncovered_workload', '']);
    expect(policySet(yaml).uncovered(workloads)).toEqual([workloads[1]]);
  });
});
