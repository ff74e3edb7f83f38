import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** What `npm pack` publishes and what it declares: licence, dependencies, files. */

const root = join(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  license: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  files: string[];
  bin: Record<string, string>;
};
const tmp = mkdtempSync(join(tmpdir(), 'mesh-authz-pack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Packages the shipped code loads at run time: value imports and dynamic imports, not `import type`. */
function runtimeImports(): Map<string, string> {
  const found = new Map<string, string>();
  const files = walk(join(root, 'src')).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));
  const importRe =
    /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const file of files) {
    for (const m of readFileSync(file, 'utf8').matchAll(importRe)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith('.') || spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      if (!found.has(name)) found.set(name, relative(root, file));
    }
  }
  return found;
}

describe('package hygiene', () => {
  it('LICENSE is the Apache License 2.0 that package.json declares', () => {
    expect(pkg.license).toBe('Apache-2.0');
    const text = readFileSync(join(root, 'LICENSE'), 'utf8');
    expect(text).toContain('Apache License\n                           Version 2.0, January 2004');
    expect(text).toContain('END OF TERMS AND CONDITIONS');
  });

  it('production dependencies are exactly what the shipped code imports', () => {
    const imports = runtimeImports();
    expect([...imports.keys()].sort()).toEqual(Object.keys(pkg.dependencies).sort());
    // The two the review named: test/bench helpers only, or not used at all.
    expect(pkg.dependencies).not.toHaveProperty('@peculiar/x509');
    expect(pkg.dependencies).not.toHaveProperty('@opentelemetry/sdk-trace-node');
  });

  it('npm pack ships dist/src, docs/, schemas/, examples and LICENSE; not dist/bench, tests or sources', () => {
    // A skeleton of the tree (one file per kind of path) so the check does not depend on a build having run.
    const layout = [
      'dist/src/cli/main.js',
      'dist/bench/run.js',
      'src/cli/main.ts',
      'test/e2e/cli.test.ts',
      'bench/run.ts',
      'docs/configuration.md',
      'schemas/config.schema.json',
      'examples/config.yaml',
      'examples/gen-identities.ts',
      'protos/envoy/service/auth/v3/external_auth.proto',
      'istio/kustomization.yaml',
      'LICENSE',
      'README.md',
    ];
    for (const f of layout) {
      mkdirSync(dirname(join(tmp, f)), { recursive: true });
      writeFileSync(join(tmp, f), 'x\n');
    }
    cpSync(join(root, 'package.json'), join(tmp, 'package.json'));
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: tmp,
      encoding: 'utf8',
      env: { ...process.env, npm_config_loglevel: 'silent', npm_config_update_notifier: 'false' },
    });
    const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path).sort();
    expect(files).toEqual(
      [
        'LICENSE',
        'README.md',
        'dist/src/cli/main.js',
        'docs/configuration.md',
        'examples/config.yaml',
        'package.json',
        'protos/envoy/service/auth/v3/external_auth.proto',
        'schemas/config.schema.json',
      ].sort(),
    );
    expect(Object.values(pkg.bin)).toEqual(['dist/src/cli/main.js']);
    // And the real docs/ folder is what ships under docs/.
    expect(readdirSync(join(root, 'docs')).length).toBeGreaterThan(0);
  });
});
