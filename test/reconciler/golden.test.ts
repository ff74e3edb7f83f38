import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePolicyText, validatePolicy } from '../../src/policy/index.js';
import {
  applyChanges,
  defaultOptions,
  diffOutput,
  formatServiceError,
  parseManifests,
  planPolicies,
  readClusterState,
  validateStructure,
} from '../../src/reconciler/index.js';

/**
 * Golden tests: annotated Services in (`golden/<case>/input.yaml`), policy files and per-Service errors out
 * (`golden/<case>/expected/`, `golden/<case>/errors.txt`). `UPDATE_GOLDEN=1` rewrites the expectations; review the
 * diff before committing it.
 */

const here = dirname(fileURLToPath(import.meta.url));
const goldenDir = join(here, 'golden');
const update = process.env['UPDATE_GOLDEN'] === '1';
const scratch = mkdtempSync(join(tmpdir(), 'mesh-authz-golden-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function tree(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  let entries: import('node:fs').Dirent[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) Object.assign(out, tree(join(dir, e.name), rel));
    else out[rel] = readFileSync(join(dir, e.name), 'utf8');
  }
  return out;
}

const cases = readdirSync(goldenDir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe('golden: annotated Services → AuthorizationPolicies', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(9);
  });

  for (const name of cases) {
    it(name, () => {
      const dir = join(goldenDir, name);
      const out = join(scratch, name);
      const plan = planPolicies(readClusterState(join(dir, 'input.yaml')), defaultOptions);
      const result = diffOutput(plan, out);
      applyChanges(out, result.changes);
      const errors = plan.errors.map((e) => `${formatServiceError(e)}\n`).join('');
      if (update) {
        rmSync(join(dir, 'expected'), { recursive: true, force: true });
        for (const [file, text] of Object.entries(tree(out))) {
          mkdirSync(dirname(join(dir, 'expected', file)), { recursive: true });
          writeFileSync(join(dir, 'expected', file), text);
        }
        writeFileSync(join(dir, 'errors.txt'), errors);
      }
      expect(tree(out)).toEqual(tree(join(dir, 'expected')));
      expect(errors).toBe(readFileSync(join(dir, 'errors.txt'), 'utf8'));

      // Every generated object passes the CRD schema (@kubernetes-models/istio) and the policy engine's
      // validatePolicy (istiod's rules), and loads with the engine's own parser.
      for (const [file, text] of Object.entries(tree(out))) {
        for (const obj of parseManifests(text, file)) {
          expect(validateStructure(obj as Record<string, unknown>), file).toEqual([]);
          expect(validatePolicy(obj, null), file).toEqual([]);
        }
        expect(parsePolicyText(text, file).issues, file).toEqual([]);
      }
      // Idempotent: a second run against its own output changes nothing.
      const again = diffOutput(planPolicies(readClusterState(join(dir, 'input.yaml')), defaultOptions), out);
      expect(again.changes).toEqual([]);
    });
  }
});
