import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicyPaths } from './policy-files.js';

const ap = (name: string, ns = 'foo') =>
  `apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec: {}\n`;

describe('loadPolicyPaths', () => {
  it('loads files and folders, ignores other extensions, reports duplicates and missing paths', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'policy-load-'));
    await writeFile(join(dir, 'a.yaml'), ap('a'));
    await writeFile(
      join(dir, 'b.json'),
      JSON.stringify({
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'b', namespace: 'foo' },
        spec: {},
      }),
    );
    await writeFile(join(dir, 'notes.txt'), 'not yaml: [');
    await writeFile(join(dir, 'dup.yml'), ap('a'));
    const out = await loadPolicyPaths([dir, join(dir, 'missing.yaml')]);
    expect(out.policies.map((p) => p.policy.metadata.name).sort()).toEqual(['a', 'a', 'b']);
    expect(out.issues.map((i) => i.code).sort()).toEqual(['duplicate_policy', 'read_failed']);
  });
});

describe('a policy file that is not UTF-8', () => {
  const policy = (path: string) =>
    `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: foo}\nspec:\n  rules: [{to: [{operation: {paths: ["${path}`;

  it('is refused with the line of the first bad byte, not read with U+FFFD in a rule', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'policy-utf8-'));
    // Line 5 holds "/admin" followed by 0xff: a lossy read loaded a rule for "/admin\uFFFD".
    const bytes = Buffer.concat([Buffer.from(policy('/admin')), Buffer.from([0xff]), Buffer.from('"]}}]}]\n')]);
    await writeFile(join(dir, 'bad.yaml'), bytes);
    const out = await loadPolicyPaths([dir]);
    expect(out.policies).toEqual([]);
    expect(out.issues).toEqual([
      expect.objectContaining({ file: join(dir, 'bad.yaml'), line: 5, code: 'read_failed', severity: 'error' }),
    ]);
    expect(out.issues[0]!.message).toMatch(/not valid UTF-8 \(byte 0xff\)/);
  });

  it('UTF-8 text (a BOM, non-ASCII in a comment and a value) still loads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'policy-utf8-'));
    await writeFile(join(dir, 'ok.yaml'), `\uFEFF# café\n${policy('/caf\u00e9')}"]}}]}]\n`);
    const out = await loadPolicyPaths([dir]);
    expect(out.issues).toEqual([]);
    expect(out.policies).toHaveLength(1);
  });
});
