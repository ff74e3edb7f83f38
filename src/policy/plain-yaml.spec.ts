import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parsePolicyText } from './parse.js';
import { readPlainYaml, resolvePlain } from './plain-yaml.js';

/** What the `yaml` library reads: the reference the fast reader must match exactly. */
const library = (text: string) =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as unknown)
    .filter((v) => v !== null && v !== undefined);

const policy = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-reads   # trailing comment
  namespace: shop
spec:
  selector:
    matchLabels:
      app: cart
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/web", 'cluster.local/ns/shop/sa/it''s']
  # a comment between items, less indented than them
    to:
    - operation:
        methods:
        - GET
        paths: [/api/*, "/q\\"\\u00e9"]
    when:
    - key: request.auth.claims[groups]
      values: ["a:b", c d]
  - {}
`;

describe('readPlainYaml', () => {
  it('reads block and flow YAML exactly as the yaml library does, with each document root line', () => {
    const text = `# lead\n---\n${policy}---\n---\n${policy}`;
    const read = readPlainYaml(text);
    expect(read).not.toBeNull();
    expect(read!.docs.map((d) => d.value)).toEqual(library(text));
    expect(read!.docs.map((d) => d.line)).toEqual([3, 3 + policy.split('\n').length + 1]);
  });

  it('reads JSON over many lines (kubectl -o json) and the line of each List item', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [{ a: 1, b: [true, null, 'x'] }, { c: { d: -1.5e3 } }] };
    const text = JSON.stringify(list, null, 2);
    const read = readPlainYaml(text)!;
    expect(read.docs.map((d) => d.value)).toEqual([list]);
    const items = (read.docs[0]!.value as typeof list).items;
    expect(items.map((i) => read.lineOf(i))).toEqual([5, 13]);
  });

  it('resolves plain scalars with the YAML 1.2 core schema', () => {
    for (const raw of ['~', 'null', 'NULL', 'True', 'false', '0o17', '-12', '0x1F', '.inf', '-.Inf', '.NaN', '1e3']) {
      expect(resolvePlain(raw)).toEqual(library(`k: ${raw}`).map((v) => (v as { k: unknown }).k)[0] ?? null);
    }
    for (const raw of ['nullx', 'Yes', 'on', '1.2.3', '0x', 'GET', '/a/*']) expect(resolvePlain(raw)).toBe(raw);
  });

  it.each([
    ['an anchor and alias', 'a: &x 1\nb: *x\n'],
    ['a tag', 'a: !!str 1\n'],
    ['a block scalar', 'a: |\n  x\n'],
    ['a multi-line plain scalar', 'a: x\n  y\n'],
    ['a multi-line quoted scalar', 'a: "x\n  y"\n'],
    ['a tab', 'a:\tb\n'],
    ['CRLF line ends', 'a: b\r\n'],
    ['a duplicate key', 'a: 1\na: 2\n'],
    ['a duplicate key in a flow mapping', '{"a": 1, "a": 2}'],
    ['a nested mapping on one line', 'a: b: c\n'],
    ['a compact nested sequence', '- - a\n'],
    ['a pair in a flow sequence', '[a: b]\n'],
    ['a complex key', '? a\n: b\n'],
    ['a directive', '%YAML 1.2\n---\na: 1\n'],
    ['a scalar document', 'hello\n'],
    ['a mis-indented entry', 'a:\n  b: 1\n c: 2\n'],
    ['a flow collection over lines inside a block', 'a: [1,\n  2]\n'],
    ['a __proto__ key', '__proto__: {a: 1}\n'],
  ])('gives up on %s (the yaml library reads it)', (_, text) => {
    expect(readPlainYaml(text)).toBeNull();
  });
});

describe('parsePolicyText on the fast path', () => {
  it('gives the same policies, lines and field lines as the yaml library path', () => {
    const fast = parsePolicyText(policy, 'p.yaml');
    // A tab in a comment is left to the library by the fast reader; the library ignores it.
    const slow = parsePolicyText(`# \t\n${policy}`, 'p.yaml');
    expect(fast.issues).toEqual([]);
    expect(fast.policies.map((p) => p.policy)).toEqual(slow.policies.map((p) => p.policy));
    expect(fast.policies[0]!.source).toEqual({ file: 'p.yaml', line: 1 });
    expect(slow.policies[0]!.source).toEqual({ file: 'p.yaml', line: 2 });
    expect(fast.policies[0]!.lines).toMatchObject({ 'spec.rules[0].to': 16, 'spec.rules[1]': 24 });
  });

  it('reports an invalid policy with the field line (the library parses it again for the lines)', () => {
    const bad = policy.replace('action: ALLOW', 'action: PERMIT');
    expect(readPlainYaml(bad)).not.toBeNull();
    expect(parsePolicyText(bad, 'b.yaml').issues).toMatchObject([
      { severity: 'error', file: 'b.yaml', line: 10, path: 'spec.action', code: 'invalid_action' },
    ]);
  });
});
