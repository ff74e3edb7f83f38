import type { PolicySet } from '../policy/set.js';

/**
 * The two judgements that keep a policy file being edited from opening the mesh. Under Istio's semantics fewer
 * policies can mean more allowed (no ALLOW policy on a workload allows everything), so a reload that loses
 * policies is only believed once it has settled, and never when it loses a whole namespace.
 */

/**
 * True when a file that held policies is now empty, holds no document, or is gone (deleted, renamed, unreadable):
 * what `: > file`, `cp`, rsync and `git checkout` look like half-way.
 */
export function emptiedFiles(before: ReadonlyMap<string, number>, now: ReadonlyMap<string, number>): boolean {
  for (const [file, count] of before) {
    if (count > 0 && (now.get(file) ?? 0) === 0) return true;
  }
  return false;
}

/**
 * Namespaces (the root namespace included) that have at least one policy in `current` and none in `next`, sorted.
 * Empty when there is no current set (the first load decides what exists).
 */
export function droppedNamespaces(current: PolicySet | null, next: PolicySet): string[] {
  if (current === null) return [];
  const remaining = new Set(next.policies.map((p) => p.policy.metadata.namespace));
  const dropped = new Set<string>();
  for (const p of current.policies) {
    const ns = p.policy.metadata.namespace;
    if (!remaining.has(ns)) dropped.add(ns);
  }
  return [...dropped].sort();
}
