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
