import { compileOperation, compileSource, type FieldCheck } from './checks.js';
import { compileCondition } from './conditions.js';
import { actionOf, type LoadedPolicy } from './model.js';
import type { ResolvedCompileOptions } from './options.js';
import { policyTargets, type TargetKey } from './targets.js';
import { type Decision, type PolicyAction, type PolicyRef, policyName, type RequestAttributes } from './types.js';

/**
 * One policy compiled to closures. Compilation happens once per load; evaluation then only calls `test`
 * functions. Rule semantics (istio/api authorization_policy.proto, Rule): the rule matches when (no `from` or
 * some `from` entry matches) AND (no `to` or some `to` entry matches) AND every `when` condition holds; inside
 * one source or operation all fields must hold.
 */
export interface CompiledRule {
  readonly policy: CompiledPolicy;
  /** Index in `spec.rules`. */
  readonly index: number;
  /** Each entry is one `from[i].source` (AND of its checks); null when the rule has no `from`. */
  readonly from: readonly (readonly FieldCheck[])[] | null;
  readonly to: readonly (readonly FieldCheck[])[] | null;
  readonly when: readonly FieldCheck[];
  /** Every check, for attribute tracking. */
  readonly checks: readonly FieldCheck[];
  /** The SPIFFE IDs the rule requires (every `from` entry names exact principals), for the index; else null. */
  readonly principalKeys: readonly string[] | null;
  /** The normalized paths the rule requires (every `to` entry lists exact paths), for the index; else null. */
  readonly pathKeys: readonly string[] | null;
  /** The frozen Decision this rule makes when it decides (ALLOW allows, DENY denies): built once, never per request. */
  readonly decision: Decision;
}

export interface CompiledPolicy {
  readonly loaded: LoadedPolicy;
  readonly ref: PolicyRef;
  readonly action: PolicyAction;
  readonly dryRun: boolean;
  readonly namespace: string;
  /** `selector.matchLabels` as pairs; empty = every workload of the namespace (root namespace: the mesh). */
  readonly selector: readonly (readonly [string, string])[];
  /** `targetRef(s)`, or null for a selector policy. A targeted policy never selects by labels or namespace. */
  readonly targets: readonly TargetKey[] | null;
  readonly rules: readonly CompiledRule[];
  /** Sort key: root namespace first, then namespace, then name. */
  readonly order: string;
}

export function compilePolicy(loaded: LoadedPolicy, options: ResolvedCompileOptions): CompiledPolicy {
  const { policy } = loaded;
  const namespace = policy.metadata.namespace;
  const action = actionOf(policy);
  const rules: CompiledRule[] = [];
  const compiled: CompiledPolicy = {
    loaded,
    ref: Object.freeze({ namespace, name: policy.metadata.name, action, source: loaded.source }),
    action,
    dryRun: loaded.dryRun,
    namespace,
    selector: Object.entries(policy.spec.selector?.matchLabels ?? {}),
    targets: policyTargets(policy.spec),
    rules,
    order: `${namespace === options.rootNamespace ? '0' : '1'}${namespace}\u0000${policy.metadata.name}`,
  };
  (policy.spec.rules ?? []).forEach((rule, index) => {
    const from = rule.from
      ? rule.from.map((f, i) => compileSource(f.source, clausePath('from', index, i), namespace, options))
      : null;
    const to = rule.to ? rule.to.map((t, i) => compileOperation(t.operation, clausePath('to', index, i))) : null;
    const when = rule.when?.length
      ? rule.when.map((c, i) => compileCondition(c, clausePath('when', index, i), namespace, options))
      : NO_CHECKS;
    rules.push(
      new Rule(
        compiled,
        index,
        from,
        to,
        when,
        keysOf(from, (c) => c.exactPrincipals),
        keysOf(to, (c) => c.exactPaths),
      ),
    );
  });
  return compiled;
}

const CLAUSE_SUFFIX = { from: '.source', to: '.operation', when: '' } as const;
/** Shared clause paths by [kind][rule][clause]; only small indices (every real policy's), so the table stays small. */
const CLAUSE_PATHS = { from: [] as string[][], to: [] as string[][], when: [] as string[][] };
const SHARED_INDEX_LIMIT = 64;

/**
 * `spec.rules[r].from[i].source` (`to[i].operation`, `when[i]`): one string per distinct path, so the field paths
 * built from it (checks.ts fieldAt) are found by a lookup rather than by building and hashing new text per rule.
 */
function clausePath(kind: keyof typeof CLAUSE_PATHS, rule: number, clause: number): string {
  if (rule >= SHARED_INDEX_LIMIT || clause >= SHARED_INDEX_LIMIT) {
    return `spec.rules[${rule}].${kind}[${clause}]${CLAUSE_SUFFIX[kind]}`;
  }
  CLAUSE_PATHS[kind][rule] ??= [];
  const byRule = CLAUSE_PATHS[kind][rule];
  byRule[clause] ??= `spec.rules[${rule}].${kind}[${clause}]${CLAUSE_SUFFIX[kind]}`;
  return byRule[clause];
}

/**
 * A compiled rule. Its Decision is made the first time the rule decides and kept (frozen, shared by every request
 * it decides): most rules of a large set never decide in a given process, and a Decision with its reason text
 * costs ~0.25 KB per rule.
 */
class Rule implements CompiledRule {
  private made: Decision | null = null;

  constructor(
    readonly policy: CompiledPolicy,
    readonly index: number,
    readonly from: readonly (readonly FieldCheck[])[] | null,
    readonly to: readonly (readonly FieldCheck[])[] | null,
    readonly when: readonly FieldCheck[],
    readonly principalKeys: readonly string[] | null,
    readonly pathKeys: readonly string[] | null,
  ) {}

  /** Built when asked (a plan reads it once per workload), not kept: one array less per rule. */
  get checks(): readonly FieldCheck[] {
    return flatten(this.from, this.to, this.when);
  }

  get decision(): Decision {
    this.made ??= ruleDecision(this.policy.ref, this.index);
    return this.made;
  }
}

/** The union of the keys every clause requires, or null when some clause does not pin the attribute down. */
function keysOf(
  clauses: readonly (readonly FieldCheck[])[] | null,
  pick: (c: FieldCheck) => readonly string[] | undefined,
): readonly string[] | null {
  if (clauses === null || clauses.length === 0) return null;
  if (clauses.length === 1) return clauses[0]!.map(pick).find((k) => k !== undefined) ?? null;
  const keys = new Set<string>();
  for (const clause of clauses) {
    const pinned = clause.find((c) => pick(c) !== undefined);
    if (!pinned) return null;
    for (const k of pick(pinned)!) keys.add(k);
  }
  return [...keys];
}

function allHold(checks: readonly FieldCheck[], r: RequestAttributes, path: string): boolean {
  for (const c of checks) if (!c.test(r, path)) return false;
  return true;
}

function someHolds(clauses: readonly (readonly FieldCheck[])[], r: RequestAttributes, path: string): boolean {
  for (const clause of clauses) if (allHold(clause, r, path)) return true;
  return false;
}

/** Does the rule match the request? `path` is the normalized path. */
export function ruleMatches(rule: CompiledRule, r: RequestAttributes, path: string): boolean {
  if (rule.from !== null && !someHolds(rule.from, r, path)) return false;
  if (rule.to !== null && !someHolds(rule.to, r, path)) return false;
  return allHold(rule.when, r, path);
}

/** The index of the first matching rule of a policy, or null. */
export function firstMatchingRule(policy: CompiledPolicy, r: RequestAttributes, path: string): number | null {
  for (const rule of policy.rules) if (ruleMatches(rule, r, path)) return rule.index;
  return null;
}

/**
 * Does the policy select a workload with these labels? (`matchLabels` ⊆ labels.) A targetRef policy never does:
 * istiod ignores it for every workload it does not target (see targets.ts).
 */
export function selects(policy: CompiledPolicy, labels: Readonly<Record<string, string>>): boolean {
  if (policy.targets !== null) return false;
  for (const [k, v] of policy.selector) if (labels[k] !== v) return false;
  return true;
}

const NO_RESULTS: readonly never[] = Object.freeze([]);
const NO_CHECKS: readonly FieldCheck[] = Object.freeze([]);

function ruleDecision(ref: PolicyRef, index: number): Decision {
  const allowed = ref.action === 'ALLOW';
  const where = ref.source ? ` (${ref.source.file}:${ref.source.line})` : '';
  return Object.freeze({
    allowed,
    code: allowed ? 'allow_matched' : 'deny_matched',
    reason: `${allowed ? 'allowed' : 'denied'} by ${ref.action} policy ${policyName(ref)} rule ${index}${where}`,
    policy: ref,
    ruleIndex: index,
    shadow: NO_RESULTS,
    audit: NO_RESULTS,
  });
}

/** All checks of a rule in one array (a plain loop: Array.prototype.flat is slow for many small arrays). */
function flatten(
  from: readonly (readonly FieldCheck[])[] | null,
  to: readonly (readonly FieldCheck[])[] | null,
  when: readonly FieldCheck[],
): FieldCheck[] {
  const out: FieldCheck[] = [];
  for (const clause of from ?? []) for (const c of clause) out.push(c);
  for (const clause of to ?? []) for (const c of clause) out.push(c);
  for (const c of when) out.push(c);
  return out;
}
