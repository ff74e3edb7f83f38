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

  it('gives field lines on demand, per document and per List item, skipping empty and other documents', () => {
    const text = `---\n# empty\n---\n${ap('a')}---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: security.istio.io/v1\n  kind: AuthorizationPolicy\n  metadata:\n    name: c\n    namespace: foo\n  spec:\n    action: DENY\n    rules:\n    - {}\n`;
    const out = parsePolicyText(text, 'm.yaml');
    const [a, c] = out.policies;
    expect(a?.lines).toMatchObject({ kind: 5, 'metadata.name': 7, spec: 9 });
    expect(c?.lines).toMatchObject({ kind: 15, 'metadata.name': 17, 'spec.rules[0]': 22 });
    // Not an own enumerable field: copies and equality checks of a policy do not parse the file again.
    expect(Object.keys(a!)).not.toContain('lines');
  });
});

describe('a document the yaml library refuses to load', () => {
  // Nine aliases of nine aliases of ...: the library's alias-count guard throws from toJS(); that threw out of
  // parsePolicyText and stopped `serve` with a stack trace instead of a file:line.
  const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g'].entries()) {
    const prev = 'abcdef'[i];
    levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  const bomb = `${levels.join('\n')}\n`;
  const policy =
    'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: foo}\nspec: {}\n';

  it('an alias bomb is an issue at its document line, and the other documents still load', () => {
    const parsed = parsePolicyText(`${policy}---\n${bomb}`, 'bomb.yaml');
    expect(parsed.issues).toHaveLength(1);
    expect(parsed.issues[0]).toMatchObject({ file: 'bomb.yaml', line: 6, code: 'yaml_syntax', severity: 'error' });
    expect(parsed.issues[0]!.message).toMatch(/^YAML document cannot be loaded: .*alias/);
    expect(parsed.policies.map((p) => p.policy.metadata.name)).toEqual(['p']);
  });

  it('a few aliases still load (the guard is not tripped by ordinary anchors)', () => {
    const parsed = parsePolicyText(`x: &x [1]\ny: *x\n---\n${policy}`, 'ok.yaml');
    expect(parsed.issues).toEqual([]);
    expect(parsed.policies).toHaveLength(1);
  });
});
