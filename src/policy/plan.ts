import { type CompiledPolicy, type CompiledRule, ruleMatches } from './compile.js';
import type { AttributeUse, KeyPlan, RequestAttributes } from './types.js';
import { keyPlanOf, NO_ATTRIBUTES } from './types.js';

/**
 * The per-workload view of a policy set: only the policies that select the workload, with their rules pooled per
 * action and indexed. Built on first use for a (namespace, labels) pair and cached, so the cost of a decision does
 * not grow with the number of other workloads or namespaces.
 */

/** Rule lists at least this long get the principal/path index; shorter ones are scanned (cheaper). */
const INDEX_THRESHOLD = 8;

/**
 * Pooled rules of one action, in policy order. Rules that pin the peer to exact SPIFFE IDs are found by a Map
 * lookup on the peer's ID; rules that pin exact paths by a lookup on the normalized path; the rest are scanned.
 * Each entry keeps its position in `rules`, which keeps "first matching rule" identical to a plain scan.
 */
export class RuleList {
  readonly rules: readonly CompiledRule[];
  private readonly byPrincipal = new Map<string, Entry[]>();
  private readonly byPath = new Map<string, Entry[]>();
  private readonly rest: Entry[] = [];

  constructor(rules: readonly CompiledRule[]) {
    this.rules = rules;
    const indexed = rules.length >= INDEX_THRESHOLD;
    rules.forEach((rule, at) => {
      const entry: Entry = { rule, at };
      if (indexed && rule.principalKeys !== null) {
        for (const k of rule.principalKeys) push(this.byPrincipal, k, entry);
      } else if (indexed && rule.pathKeys !== null) {
        for (const k of rule.pathKeys) push(this.byPath, k, entry);
      } else this.rest.push(entry);
    });
  }

  get size(): number {
    return this.rules.length;
  }

  /** The first rule (in policy order) that matches, or null. */
  firstMatch(r: RequestAttributes, path: string): CompiledRule | null {
    if (this.rules.length === 0) return null;
    let best: Entry | null = null;
    if (r.peer !== null && this.byPrincipal.size > 0) {
      best = scan(this.byPrincipal.get(r.peer.spiffeId), r, path, Number.MAX_SAFE_INTEGER);
    }
    if (this.byPath.size > 0) best = scan(this.byPath.get(path), r, path, best?.at ?? Number.MAX_SAFE_INTEGER) ?? best;
    best = scan(this.rest, r, path, best?.at ?? Number.MAX_SAFE_INTEGER) ?? best;
    return best === null ? null : best.rule;
  }
}

interface Entry {
  readonly rule: CompiledRule;
  /** Position in the pooled list. */
  readonly at: number;
}

/** The first entry before position `before` that matches. */
function scan(list: readonly Entry[] | undefined, r: RequestAttributes, path: string, before: number): Entry | null {
  if (list === undefined) return null;
  for (const e of list) {
    if (e.at >= before) return null;
    if (ruleMatches(e.rule, r, path)) return e;
  }
  return null;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) {
    if (list[list.length - 1] !== value) list.push(value);
  } else map.set(key, [value]);
}

export interface WorkloadPlan {
  /** Every policy that selects the workload, in order (CUSTOM included, for explanations). */
  readonly policies: readonly CompiledPolicy[];
  readonly deny: RuleList;
  readonly allow: RuleList;
  readonly audit: readonly CompiledPolicy[];
  /** Dry-run ALLOW/DENY policies: evaluated, reported, never enforced. */
  readonly shadow: readonly CompiledPolicy[];
  /** The staged DENY and ALLOW policies, each a rule set of its own (Envoy RBAC shadow_rules). */
  readonly shadowDeny: readonly CompiledPolicy[];
  readonly shadowAllow: readonly CompiledPolicy[];
  /** At least one enforced ALLOW policy selects the workload: default deny applies. */
  readonly hasEnforcedAllow: boolean;
  /** Some check reads the path: normalize it (and reject what cannot be normalized). */
  readonly readsPath: boolean;
  readonly uses: AttributeUse;
  /** The decision cache's key plan for the workloads this plan decides, built with it. */
  readonly key: KeyPlan;
}

/** `keyPrefix`: the cache key head for this plan, unique among the set's plans (see {@link KeyPlan}). */
export function buildPlan(policies: readonly CompiledPolicy[], keyPrefix: string): WorkloadPlan {
  const enforced = (action: string) => policies.filter((p) => p.action === action && !p.dryRun);
  const pooled = (list: CompiledPolicy[]) => new RuleList(list.flatMap((p) => p.rules));
  const allowPolicies = enforced('ALLOW');
  // CUSTOM is decided by the external provider, not here: its rules are not read, so they add no attributes.
  const read = policies.filter((p) => p.action !== 'CUSTOM');
  const uses = attributeUse(read);
  return {
    policies,
    deny: pooled(enforced('DENY')),
    allow: pooled(allowPolicies),
    audit: policies.filter((p) => p.action === 'AUDIT'),
    shadow: policies.filter((p) => p.dryRun),
    shadowDeny: policies.filter((p) => p.dryRun && p.action === 'DENY'),
    shadowAllow: policies.filter((p) => p.dryRun && p.action === 'ALLOW'),
    hasEnforcedAllow: allowPolicies.length > 0,
    readsPath: uses.path,
    uses,
    key: keyPlanOf(keyPrefix, uses),
  };
}

/**
 * Exactly the attributes the checks read. Dry-run and AUDIT policies count too: their results are part of the
 * Decision, so a cached decision must not be reused for a request that differs in what they read.
 */
function attributeUse(policies: readonly CompiledPolicy[]): AttributeUse {
  const use = { ...NO_ATTRIBUTES, headers: [] as string[] };
  const headers = new Set<string>();
  for (const p of policies) {
    for (const rule of p.rules) {
      for (const c of rule.checks) {
        if (c.reads === 'header') headers.add(c.header!);
        else use[c.reads] = true;
      }
    }
  }
  use.headers = [...headers].sort();
  return Object.freeze(use);
}
