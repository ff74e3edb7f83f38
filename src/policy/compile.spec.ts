import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import { type CompiledPolicy, compilePolicy } from './compile.js';
import type { LoadedPolicy } from './model.js';
import { resolveCompileOptions } from './options.js';
import { parsePolicyText } from './parse.js';

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

/** Compiles the policies of a YAML text one by one (no set), so the compiled fields themselves can be read. */
function compiled(yaml: string, options = resolveCompileOptions()): CompiledPolicy[] {
  const parsed = parsePolicyText(yaml, 'test.yaml');
  expect(parsed.issues.filter((i) => i.severity === 'error')).toEqual([]);
  return parsed.policies.map((p) => compilePolicy(p, options));
}

describe('compiled fields: index keys, checks, order and locations', () => {
  const keysOf = (rules: string) => {
    const [p] = compiled(policy('DENY', `  rules:\n${rules}`));
    return { principals: p!.rules[0]!.principalKeys, paths: p!.rules[0]!.pathKeys };
  };

  it('one from entry: the principals it pins, found whichever field of the entry pins them', () => {
    expect(keysOf('  - from:\n    - source:\n        principals: ["cluster.local/ns/foo/sa/a"]').principals).toEqual([
      A,
    ]);
    // `namespaces` comes first in the entry and pins nothing: the keys still come from `principals`.
    const second =
      '  - from:\n    - source:\n        namespaces: ["foo"]\n        principals: ["cluster.local/ns/foo/sa/a", "cluster.local/ns/foo/sa/b"]';
    expect(keysOf(second).principals).toEqual([A, B]);
    expect(keysOf('  - from:\n    - source:\n        namespaces: ["foo"]').principals).toBeNull();
    // A wildcard or a not-form pins nothing.
    expect(keysOf('  - from:\n    - source:\n        principals: ["cluster.local/ns/foo/*"]').principals).toBeNull();
    expect(
      keysOf('  - from:\n    - source:\n        notPrincipals: ["cluster.local/ns/foo/sa/a"]').principals,
    ).toBeNull();
    expect(keysOf('  - to:\n    - operation:\n        paths: ["/a"]').principals).toBeNull();
  });

  it('several from entries: the union when every entry pins principals, null when one does not', () => {
    const both =
      '  - from:\n    - source:\n        namespaces: ["foo"]\n        principals: ["cluster.local/ns/foo/sa/a"]\n    - source:\n        principals: ["cluster.local/ns/foo/sa/b", "cluster.local/ns/foo/sa/a"]';
    expect(keysOf(both).principals).toEqual([A, B]);
    const oneOpen =
      '  - from:\n    - source:\n        principals: ["cluster.local/ns/foo/sa/a"]\n    - source:\n        namespaces: ["foo"]';
    expect(keysOf(oneOpen).principals).toBeNull();
    const openFirst =
      '  - from:\n    - source:\n        namespaces: ["foo"]\n    - source:\n        principals: ["cluster.local/ns/foo/sa/a"]';
    expect(keysOf(openFirst).principals).toBeNull();
  });

  it('paths: exact paths pin the rule, a template or a prefix does not', () => {
    expect(keysOf('  - to:\n    - operation:\n        methods: ["GET"]\n        paths: ["/a", "/b"]').paths).toEqual([
      '/a',
      '/b',
    ]);
    expect(keysOf('  - to:\n    - operation:\n        paths: ["/a/*"]').paths).toBeNull();
    expect(
      keysOf('  - to:\n    - operation:\n        paths: ["/a"]\n    - operation:\n        methods: ["GET"]').paths,
    ).toBeNull();
  });

  it('a rule lists exactly its own checks (nothing stands in for a missing from or to)', () => {
    const [p] = compiled(
      policy(
        'ALLOW',
        '  rules:\n  - when:\n    - key: request.headers[x-a]\n      values: ["1"]\n  - from:\n    - source:\n        namespaces: ["foo"]\n  - to:\n    - operation:\n        methods: ["GET"]\n  - {}',
      ),
    );
    const reads = p!.rules.map((r) => r.checks.map((c) => c.reads));
    expect(reads).toEqual([['header'], ['peer'], ['method'], []]);
  });

  it('each check knows where it is in the policy (explanations and errors point there)', () => {
    const [p] = compiled(
      policy(
        'ALLOW',
        '  rules:\n  - {}\n  - from:\n    - source:\n        namespaces: ["foo"]\n    - source:\n        principals: ["cluster.local/ns/foo/sa/a"]\n    to:\n    - operation:\n        methods: ["GET"]\n    when:\n    - key: source.ip\n      values: ["10.0.0.1"]',
      ),
    );
    expect(p!.rules[1]!.checks.map((c) => c.at)).toEqual([
      'spec.rules[1].from[0].source.namespaces',
      'spec.rules[1].from[1].source.principals',
      'spec.rules[1].to[0].operation.methods',
      'spec.rules[1].when[0]',
    ]);
  });

  it('rule and clause indices past the shared path table (64) still name their own place', () => {
    // 70 rules, the last with 70 `from` entries: the paths of large indices are built, not looked up.
    const sources = Array.from({ length: 70 }, (_, i) => `    - source:\n        namespaces: ["ns${i}"]`).join('\n');
    const rules = `${'  - {}\n'.repeat(69)}  - from:\n${sources}\n    to:\n    - operation:\n        methods: ["GET"]`;
    const [p] = compiled(policy('ALLOW', `  rules:\n${rules}`));
    const last = p!.rules[69]!.checks.map((c) => c.at);
    expect(last[0]).toBe('spec.rules[69].from[0].source.namespaces');
    expect(last[64]).toBe('spec.rules[69].from[64].source.namespaces');
    expect(last[69]).toBe('spec.rules[69].from[69].source.namespaces');
    expect(last[70]).toBe('spec.rules[69].to[0].operation.methods');
    // A small rule index with a large clause index, and the other way round.
    const wide = `  - from:\n${sources}\n${'  - {}\n'.repeat(64)}  - to:\n    - operation:\n        methods: ["GET"]`;
    const [q] = compiled(policy('ALLOW', `  rules:\n${wide}`));
    expect(q!.rules[0]!.checks[65]!.at).toBe('spec.rules[0].from[65].source.namespaces');
    expect(q!.rules[65]!.checks[0]!.at).toBe('spec.rules[65].to[0].operation.methods');
  });

  it('the sort key puts the root namespace first, then namespace, then name', () => {
    const doc = (ns: string, name: string) => policy('ALLOW', '  rules:\n  - {}', { namespace: ns, name });
    // Kubernetes names may start with a digit: `0-team` sorts before `istio-system` as text, not as a key.
    const list = compiled(
      doc('0-team', 'a') + doc('aaa', 'b') + doc('istio-system', 'z') + doc('zzz', 'a') + doc('aaa', 'a'),
    );
    const sorted = [...list].sort((x, y) => (x.order < y.order ? -1 : x.order > y.order ? 1 : 0));
    expect(sorted.map((p) => `${p.namespace}/${p.ref.name}`)).toEqual([
      'istio-system/z',
      '0-team/a',
      'aaa/a',
      'aaa/b',
      'zzz/a',
    ]);
    // Another root namespace moves the head.
    const other = compiled(
      doc('0-team', 'a') + doc('mesh-root', 'z'),
      resolveCompileOptions({ rootNamespace: 'mesh-root' }),
    );
    expect(other[1]!.order < other[0]!.order).toBe(true);
  });

  it('a policy built in code (no source file) gets a Decision reason without a location', () => {
    const [p] = compiled(policy('DENY', '  rules:\n  - {}'));
    const bare: LoadedPolicy = { ...p!.loaded, source: undefined as unknown as LoadedPolicy['source'] };
    const rule = compilePolicy(bare, resolveCompileOptions()).rules[0]!;
    expect(rule.decision.reason).toBe('denied by DENY policy foo/deny rule 0');
    expect(p!.rules[0]!.decision.reason).toMatch(/^denied by DENY policy foo\/deny rule 0 \(test\.yaml:\d+\)$/);
  });
});
