import { describe, expect, it } from 'vitest';
import type { LoadedPolicy } from './model.js';
import { duplicateIssues, formatIssues, parsePolicyText } from './parse.js';
import { readPlainYaml } from './plain-yaml.js';

/**
 * Loading policy files: which documents are policies (and which are skipped with a note), that every issue keeps
 * its file and the line of the offending field, and that the fast reader and the `yaml` library load the same
 * thing. Each text is parsed twice: as written (the fast reader's subset) and with CRLF line ends (which the fast
 * reader leaves to the library), and both must give the same policies, issues and notes.
 */

const ap = (name: string, spec = 'spec: {}', ns = 'foo', apiVersion = 'security.istio.io/v1') =>
  `apiVersion: ${apiVersion}\nkind: AuthorizationPolicy\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n${spec}\n`;

function both(text: string, file = 'f.yaml', plainSubset = true) {
  const crlf = text.replace(/\n/g, '\r\n');
  // The premise: the first goes through the fast reader, the second through the library.
  if (plainSubset) expect(readPlainYaml(text)).not.toBeNull();
  expect(readPlainYaml(crlf)).toBeNull();
  const plain = parsePolicyText(text, file);
  const library = parsePolicyText(crlf, file);
  expect(library.issues).toEqual(plain.issues);
  expect(library.notes).toEqual(plain.notes);
  expect(library.policies).toEqual(plain.policies);
  expect(library.policies.map((p) => p.lines)).toEqual(plain.policies.map((p) => p.lines));
  return plain;
}

const summary = (issues: { severity: string; code: string; path: string; line: number }[]) =>
  issues.map((i) => [i.severity, i.code, i.path, i.line]);

describe('which documents are policies', () => {
  it('loads AuthorizationPolicy of security.istio.io, in v1 and v1beta1', () => {
    const out = both(`${ap('a')}---\n${ap('b', 'spec: {}', 'foo', 'security.istio.io/v1beta1')}`);
    expect(out.policies.map((p) => [p.policy.metadata.name, p.source])).toEqual([
      ['a', { file: 'f.yaml', line: 1 }],
      ['b', { file: 'f.yaml', line: 8 }],
    ]);
    expect(out.issues).toEqual([]);
    expect(out.notes).toEqual([]);
  });

  it('skips other kinds and other groups with a note naming file, line, kind and name', () => {
    const text = `apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n---\n${ap('l', 'spec: {}', 'foo', 'policy.linkerd.io/v1alpha1')}---\nkind: ConfigMap\n---\nhello\n---\napiVersion: v1\nmetadata:\n  name: nokind\n`;
    const out = both(text, 'f.yaml', false);
    expect(out.policies).toEqual([]);
    expect(out.issues).toEqual([]);
    expect(out.notes).toEqual([
      "f.yaml:1: skipped Service 's' (not an AuthorizationPolicy)",
      "f.yaml:6: skipped AuthorizationPolicy 'l' (not an AuthorizationPolicy)",
      'f.yaml:13: skipped ConfigMap (not an AuthorizationPolicy)',
      'f.yaml:15: skipped a document without kind (not an AuthorizationPolicy)',
      "f.yaml:17: skipped a document without kind 'nokind' (not an AuthorizationPolicy)",
    ]);
  });

  it("reads the API server's AuthorizationPolicyList: items without apiVersion and kind take the list's", () => {
    // What `kubectl get --raw /apis/security.istio.io/v1/namespaces/foo/authorizationpolicies` answers: a typed
    // list whose items carry only metadata and spec (Kubernetes API conventions, "Lists and Simple kinds").
    const text =
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicyList\nmetadata:\n  resourceVersion: "7"\nitems:\n' +
      '  - metadata:\n      name: deny-admin\n      namespace: foo\n    spec:\n      action: DENY\n      rules:\n' +
      '        - to:\n            - operation:\n                paths: ["/admin*"]\n' +
      '  - metadata:\n      name: allow-all\n      namespace: foo\n    spec:\n      rules:\n        - {}\n';
    const out = both(text);
    expect(out.issues).toEqual([]);
    expect(out.notes).toEqual([]);
    expect(out.policies.map((p) => [p.policy.metadata.name, p.policy.spec.action ?? 'ALLOW', p.source.line])).toEqual([
      ['deny-admin', 'DENY', 6],
      ['allow-all', 'ALLOW', 15],
    ]);
  });

  it('skips a list of another group, and an item of another kind inside an AuthorizationPolicyList', () => {
    const other =
      'apiVersion: policy.linkerd.io/v1alpha1\nkind: AuthorizationPolicyList\nitems:\n  - metadata:\n      name: x\n';
    const mixed =
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicyList\nitems:\n  - kind: PeerAuthentication\n' +
      '    metadata:\n      name: p\n      namespace: foo\n';
    expect(both(other).notes).toEqual(['f.yaml:1: skipped AuthorizationPolicyList (not an AuthorizationPolicy)']);
    const out = both(mixed);
    expect(out.policies).toEqual([]);
    expect(out.notes).toEqual(["f.yaml:4: skipped PeerAuthentication 'p' (not an AuthorizationPolicy)"]);
  });

  it('only AuthorizationPolicyList of security.istio.io is read as a typed list; any other is skipped whole', () => {
    const items =
      '\nitems:\n- metadata:\n    name: a\n    namespace: foo\n  spec:\n    action: DENY\n    rules:\n    - {}\n';
    // Another kind of the same group: its items must not become AuthorizationPolicies.
    expect(both(`apiVersion: security.istio.io/v1\nkind: PeerAuthenticationList${items}`).notes).toEqual([
      'f.yaml:1: skipped PeerAuthenticationList (not an AuthorizationPolicy)',
    ]);
    for (const head of ['kind: AuthorizationPolicyList', 'apiVersion: 7\nkind: AuthorizationPolicyList']) {
      const out = both(`${head}${items}`);
      expect(out.policies, head).toEqual([]);
      expect(out.notes, head).toEqual(['f.yaml:1: skipped AuthorizationPolicyList (not an AuthorizationPolicy)']);
    }
    // An AuthorizationPolicy with an `items` field is a policy (refused for the unknown field), not a list.
    expect(summary(both(`${ap('a')}items:\n- metadata:\n    name: b\n`).issues)).toEqual([
      ['error', 'unknown_field', 'items', 7],
    ]);
  });

  it('list items that are not mappings are skipped with a note at their own line, in both kinds of list', () => {
    const policy = ap('a', 'spec:\n  action: DENY\n  rules:\n  - {}').trimEnd().replace(/\n/g, '\n  ');
    const list = both(`apiVersion: v1\nkind: List\nitems:\n- just-text\n-\n- ${policy}\n- [x]\n`);
    expect(list.policies.map((p) => [p.policy.metadata.name, p.source.line])).toEqual([['a', 6]]);
    expect(list.notes).toEqual([
      'f.yaml:4: skipped a document without kind (not an AuthorizationPolicy)',
      'f.yaml:5: skipped a document without kind (not an AuthorizationPolicy)',
      'f.yaml:15: skipped a document without kind (not an AuthorizationPolicy)',
    ]);
    const typed = both(
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicyList\nitems:\n- just-text\n-\n- [x]\n' +
        '- metadata:\n    name: a\n    namespace: foo\n  spec:\n    action: DENY\n    rules:\n    - {}\n',
    );
    expect(typed.policies.map((p) => [p.policy.metadata.name, p.policy.kind, p.source.line])).toEqual([
      ['a', 'AuthorizationPolicy', 7],
    ]);
    expect(typed.issues).toEqual([]);
    expect(typed.notes).toEqual(
      [4, 5, 6].map((l) => `f.yaml:${l}: skipped a document without kind (not an AuthorizationPolicy)`),
    );
  });

  it('an AuthorizationPolicy of security.istio.io with an unserved version is refused, not skipped', () => {
    const out = both(ap('a', 'spec: {}', 'foo', 'security.istio.io/v1alpha1'));
    expect(out.policies).toEqual([]);
    expect(summary(out.issues)).toEqual([['error', 'schema', 'apiVersion', 1]]);
  });

  it('an AuthorizationPolicy without apiVersion is refused (the API server needs one), not skipped', () => {
    const text =
      'kind: AuthorizationPolicy\nmetadata:\n  name: a\n  namespace: foo\nspec:\n  action: DENY\n  rules:\n  - {}\n';
    const out = both(text);
    expect(out.policies).toEqual([]);
    expect(out.notes).toEqual([]);
    expect(summary(out.issues)).toEqual([['error', 'schema', 'apiVersion', 1]]);
  });

  it('an empty or non-string apiVersion is refused too; only a named other group is skipped', () => {
    for (const v of ['""', '7']) {
      const out = both(
        `apiVersion: ${v}\nkind: AuthorizationPolicy\nmetadata:\n  name: a\n  namespace: foo\nspec: {}\n`,
      );
      expect(out.notes, v).toEqual([]);
      expect(summary(out.issues), v).toEqual([['error', 'schema', 'apiVersion', 1]]);
    }
  });

  it('only kind List is read as a list: another kind holding items is skipped whole', () => {
    const out = both(
      `apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nitems:\n- ${ap('a').trimEnd().replace(/\n/g, '\n  ')}\n`,
    );
    expect(out.policies).toEqual([]);
    expect(out.notes).toEqual(["f.yaml:1: skipped Service 's' (not an AuthorizationPolicy)"]);
  });

  it('empty documents are skipped without a note and do not shift lines', () => {
    const out = both(`---\n---\n# c\n---\n${ap('a', 'spec:\n  action: DENY\n  rules:\n  - {}')}`);
    expect(out.notes).toEqual([]);
    expect(out.policies.map((p) => [p.source.line, p.lines?.['spec.rules[0]']])).toEqual([[5, 13]]);
  });

  it('a mapping entry without a key is an issue at its parent line, not a crash', () => {
    const out = parsePolicyText(`${ap('a', 'spec:\n  ? \n  : x')}`, 'k.yaml');
    expect(summary(out.issues)).toEqual([['error', 'unknown_field', 'spec.', 6]]);
  });

  it('kind: List: each item is a document with its own line; a List without items is skipped', () => {
    const item = (name: string) =>
      `- apiVersion: security.istio.io/v1\n  kind: AuthorizationPolicy\n  metadata:\n    name: ${name}\n    namespace: foo\n  spec:\n    action: DENY\n    rules:\n    - {}`;
    const out = both(
      `apiVersion: v1\nkind: List\nitems:\n${item('a')}\n${item('b')}\n- kind: Service\n  metadata:\n    name: s\n---\nkind: List\n`,
    );
    expect(out.policies.map((p) => [p.policy.metadata.name, p.source.line])).toEqual([
      ['a', 4],
      ['b', 13],
    ]);
    expect(out.notes).toEqual([
      "f.yaml:22: skipped Service 's' (not an AuthorizationPolicy)",
      'f.yaml:26: skipped List (not an AuthorizationPolicy)',
    ]);
  });
});

describe('issues keep the file and the line of the field', () => {
  it('points at the offending field, in a document and in a List item', () => {
    const bad = 'spec:\n  rules:\n  - to:\n    - operation:\n        ports: ["80", "x"]';
    const out = both(`${ap('a')}---\n${ap('b', bad)}`, 'dir/p.yaml');
    expect(out.issues).toMatchObject([
      { file: 'dir/p.yaml', line: 17, path: 'spec.rules[0].to[0].operation.ports[1]', code: 'invalid_port' },
    ]);
    expect(out.policies.map((p) => p.policy.metadata.name)).toEqual(['a']);
    const list = `apiVersion: v1\nkind: List\nitems:\n- apiVersion: security.istio.io/v1\n  kind: AuthorizationPolicy\n  metadata:\n    name: c\n    namespace: foo\n  spec:\n    action: DENY\n    rules:\n    - from: []\n`;
    expect(summary(both(list).issues)).toEqual([['error', 'empty_value', 'spec.rules[0].from', 12]]);
  });

  it('a missing field is reported at its nearest parent; a warning keeps its line too', () => {
    const noName =
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  namespace: foo\nspec: {}\n';
    expect(summary(both(noName).issues)).toEqual([['error', 'missing_field', 'metadata.name', 3]]);
    const noNs = `${ap('a')}---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: b\n`;
    const out = both(noNs);
    expect(summary(out.issues)).toEqual([['warning', 'missing_namespace', 'metadata', 10]]);
    expect(out.policies.map((p) => p.policy.metadata.namespace)).toEqual(['foo', 'default']);
    const rulesAt = `${ap('a', 'spec:\n  action: DENY\n  rules:\n  - {}\n  - from: []')}`;
    expect(summary(both(rulesAt).issues)).toEqual([['error', 'empty_value', 'spec.rules[1].from', 10]]);
  });

  it('a YAML syntax error names its line; the other documents are still read', () => {
    const out = parsePolicyText(`${ap('a')}---\nkey: [1\nb: 2\n---\n${ap('c', 'spec:\n  action: DENY')}`, 's.yaml');
    // An error, so the whole load is refused (a broken document is never just left out).
    expect(out.issues.map((i) => [i.severity, i.code, i.file, i.line, i.path])).toEqual([
      ['error', 'yaml_syntax', 's.yaml', 9, ''],
      ['error', 'missing_rules', 's.yaml', 16, 'spec'],
    ]);
    expect(out.issues[0]?.message).toMatch(/^YAML syntax error: [^\n]{10,}$/);
    // The position is the issue's line: the message does not repeat it.
    expect(out.issues[0]?.message).not.toMatch(/line \d|column \d/);
    expect(out.policies.map((p) => p.policy.metadata.name)).toEqual(['a']);
  });

  it('the field lines of a policy after a broken document are its own', () => {
    const text = `${ap('a')}---\nkey: [1\nb: 2\n---\n# empty\n---\n${ap('c', 'spec:\n  action: DENY\n  rules:\n  - {}')}`;
    const out = parsePolicyText(text, 's.yaml');
    expect(summary(out.issues)).toEqual([['error', 'yaml_syntax', '', 9]]);
    expect(out.policies.map((p) => [p.policy.metadata.name, p.source.line])).toEqual([
      ['a', 1],
      ['c', 13],
    ]);
    expect(out.policies[1]?.lines).toMatchObject({ apiVersion: 13, 'metadata.name': 16, 'spec.rules[0]': 21 });
    expect(out.policies[0]?.lines).toMatchObject({ apiVersion: 1, spec: 6 });
  });
});

describe('what a loaded policy holds', () => {
  it('plain values only, and the field lines on demand (not an own field, computed once)', () => {
    const text = `---\n# empty\n---\n${ap('a', 'spec:\n  action: DENY\n  rules:\n  - from:\n    - source:\n        namespaces: ["x", "y"]')}---\n${ap('b')}`;
    const out = both(text);
    const [a, b] = out.policies as [LoadedPolicy, LoadedPolicy];
    expect(a.policy).toEqual({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'a', namespace: 'foo' },
      spec: { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['x', 'y'] } }] }] },
    });
    expect(Object.keys(a)).toEqual(['policy', 'source', 'dryRun']);
    expect(a.lines).toMatchObject({
      apiVersion: 4,
      'metadata.namespace': 8,
      'spec.rules[0]': 12,
      'spec.rules[0].from[0].source.namespaces': 14,
      'spec.rules[0].from[0].source.namespaces[1]': 14,
    });
    expect(a.lines).toBe(a.lines);
    expect(b.lines).toMatchObject({ apiVersion: 16, spec: 21 });
    const crlf = parsePolicyText(text.replace(/\n/g, '\r\n'), 'f.yaml').policies[0]!;
    expect(JSON.parse(JSON.stringify(crlf.policy))).toEqual(crlf.policy);
    expect(Object.getPrototypeOf(crlf.policy.spec)).toBe(Object.prototype);
  });

  it('skips non-string keys in the field lines', () => {
    const text = `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: a\n  namespace: foo\n  labels:\n    ? [1]\n    : x\nspec: {}\n`;
    const lines = parsePolicyText(text, 'k.yaml').policies[0]?.lines ?? {};
    expect(Object.keys(lines).filter((k) => k.startsWith('metadata.labels'))).toEqual(['metadata.labels']);
  });
});

describe('duplicates and formatting', () => {
  it('the same namespace/name twice is an error at the second, naming the first', () => {
    const out = parsePolicyText(`${ap('a')}---\n${ap('a', 'spec: {}', 'bar')}---\n${ap('b')}---\n${ap('a')}`, 'd.yaml');
    const dup = duplicateIssues(out.policies);
    expect(dup).toEqual([
      {
        severity: 'error',
        file: 'd.yaml',
        line: 22,
        path: 'metadata.name',
        message: 'policy foo/a is already defined at d.yaml:1',
        code: 'duplicate_policy',
      },
    ]);
    expect(duplicateIssues(out.policies.slice(0, 3))).toEqual([]);
  });

  it('formats errors first, keeping the order otherwise', () => {
    const issue = (severity: 'error' | 'warning', line: number) =>
      ({ severity, file: 'f', line, path: '', message: 'm', code: 'schema' }) as const;
    expect(formatIssues([issue('warning', 1), issue('error', 2), issue('warning', 3), issue('error', 4)])).toBe(
      ['f:2: error: m [schema]', 'f:4: error: m [schema]', 'f:1: warning: m [schema]', 'f:3: warning: m [schema]'].join(
        '\n',
      ),
    );
    expect(formatIssues([])).toBe('');
  });
});
