import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { unifiedDiff } from './diff.js';
import { ReconcileError, type ServiceError } from './errors.js';
import { isOwned, Labels } from './labels.js';
import { parseManifests, policyFile, renderPolicy } from './manifests.js';
import type { Target } from './model.js';
import type { Plan } from './plan.js';

/**
 * GitOps mode: the plan becomes files under `<out>/mesh/` (apply to the cluster) and `<out>/mesh-authz/` (load into
 * the server). Only files that carry the ownership label are ever rewritten or removed; the output is a pure
 * function of the input, so a second run finds nothing to change.
 */

export type FileChange =
  | { readonly op: 'create'; readonly file: string; readonly after: string }
  | { readonly op: 'update'; readonly file: string; readonly before: string; readonly after: string }
  | { readonly op: 'delete'; readonly file: string; readonly before: string };

export interface GitOpsPlan {
  readonly changes: readonly FileChange[];
  /** Problems with the output folder itself (an unowned file where a generated one belongs). */
  readonly errors: readonly ServiceError[];
}

const TARGETS: readonly Target[] = ['mesh', 'mesh-authz'];

/** Compares the plan with what is in `outDir` now. Reads only. */
export function diffOutput(plan: Plan, outDir: string): GitOpsPlan {
  const existing = new Map<string, string>();
  for (const target of TARGETS) {
    let names: string[] = [];
    try {
      names = readdirSync(join(outDir, target)).filter((n) => n.endsWith('.yaml'));
    } catch {
      names = [];
    }
    for (const name of names) existing.set(`${target}/${name}`, readFileSync(join(outDir, target, name), 'utf8'));
  }
  const changes: FileChange[] = [];
  const errors: ServiceError[] = [];
  const wanted = new Set<string>();
  for (const p of plan.policies) {
    const file = policyFile(p);
    wanted.add(file);
    const after = renderPolicy(p);
    const before = existing.get(file);
    if (before === undefined) changes.push({ op: 'create', file, after });
    else if (before === after) {
      // Byte-identical to what we generate: up to date (and ours); no need to parse it.
    } else if (!ownedText(before, file)) {
      errors.push({
        code: 'name_conflict',
        service: p.origin,
        annotation: null,
        message: `${file} exists and is not managed by mesh-authz; left untouched`,
      });
    } else changes.push({ op: 'update', file, before, after });
  }
  for (const [file, before] of [...existing].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (wanted.has(file) || !ownedText(before, file)) continue;
    // Keep the last good policies of a Service whose annotations are now broken: removing them would open it.
    if (plan.held.has(serviceOf(before, file))) continue;
    changes.push({ op: 'delete', file, before });
  }
  changes.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { changes, errors };
}

/** Writes the changes; each file is written to a temp name and renamed, so a reader never sees half a policy. */
export function applyChanges(outDir: string, changes: readonly FileChange[]): void {
  try {
    for (const c of changes) {
      const path = join(outDir, c.file);
      if (c.op === 'delete') {
        rmSync(path, { force: true });
        continue;
      }
      mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.tmp-${process.pid}`;
      writeFileSync(tmp, c.after);
      renameSync(tmp, path);
    }
  } catch (err) {
    throw new ReconcileError('output_unwritable', `${outDir}: ${(err as Error).message}`, { cause: err });
  }
}

/** `--diff` output for a set of changes. */
export function renderChanges(changes: readonly FileChange[]): string {
  return changes
    .map((c) => {
      if (c.op === 'create') return unifiedDiff('', c.after, '/dev/null', `b/${c.file}`);
      if (c.op === 'delete') return unifiedDiff(c.before, '', `a/${c.file}`, '/dev/null');
      return unifiedDiff(c.before, c.after, `a/${c.file}`, `b/${c.file}`);
    })
    .join('');
}

function ownedText(text: string, file: string): boolean {
  try {
    const objs = parseManifests(text, file);
    return objs.length === 1 && isOwned(objs[0]!);
  } catch {
    return false;
  }
}

function serviceOf(text: string, file: string): string {
  const obj = parseManifests(text, file)[0];
  const service = obj?.metadata?.labels?.[Labels.service];
  return service ? `${obj?.metadata?.namespace ?? ''}/${service}` : '';
}
