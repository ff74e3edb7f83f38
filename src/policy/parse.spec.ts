import { describe, expect, it } from 'vitest';
import { parsePolicyText } from './parse.js';

const ap = (name: string, ns = 'foo') =>
  `apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec: {}\n`;

describe('parsePolicyText', () => {
  it('reads multi-document YAML, keeps each document line, and skips other kinds with a note', () => {
    const text = `${ap('a')}---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n---\n${ap('b')}`;
    const out = parsePolicyText(text, 'f.yaml');
    expect(out.policies.map((p) => [p.policy.metadata.name, p.source.line])).toEqual([
      ['a', 1],
      ['b', 13],
    ]);
    expect(out.notes).toEqual(["f.yaml:8: skipped Service 's' (not an AuthorizationPolicy)"]);
    expect(out.issues).toEqual([]);
  });

  it('reads kind: List and reports item lines', () => {
    const text = `apiVersion: v1\nkind: List\nitems:\n- apiVersion: security.istio.io/v1\n  kind: AuthorizationPolicy\n  metadata:\n    name: a\n    namespace: foo\n  spec:\n    action: DENY\n`;
    const out = parsePolicyText(text, 'l.yaml');
    expect(out.policies).toHaveLength(0);
    expect(out.issues[0]).toMatchObject({ code: 'missing_rules', line: 9, path: 'spec' });
  });

  it('reports YAML syntax errors with their line', () => {
    const out = parsePolicyText('a: [1\nb: 2\n', 's.yaml');
    expect(out.issues[0]?.code).toBe('yaml_syntax');
  });

  it('assumes namespace default with a warning when none is set', () => {
    const out = parsePolicyText(
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: x\n',
      'n.yaml',
    );
    expect(out.policies[0]?.policy.metadata.namespace).toBe('default');
    expect(out.issues).toMatchObject([{ severity: 'warning', code: 'missing_namespace' }]);
  });
});
