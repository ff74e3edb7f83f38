import { type CompiledPolicy, compilePolicy, firstMatchingRule, selects } from './compile.js';
import { explainDecision } from './explain.js';
import type { LoadedPolicy } from './model.js';
import { NamespaceGroups } from './namespaces.js';
import { normalizePath } from './normalize.js';
import { type CompileOptions, type ResolvedCompileOptions, resolveCompileOptions } from './options.js';
import { buildPlan, type WorkloadPlan } from './plan.js';
import { targetsWorkload } from './targets.js';
import type {
  AttributeUse,
  CompiledPolicySet,
  Decision,
  Explanation,
  KeyPlan,
  PolicyRef,
  RequestAttributes,
  ShadowResult,
  WorkloadRef,
} from './types.js';

/**
 * @internal How many plans the set keeps; at this count the next new namespace starts the cache over (plans are cheap
 * to rebuild). Exported for the test of that boundary.
 */
export const PLAN_CACHE_LIMIT = 10_000;
const NONE: readonly never[] = Object.freeze([]);

/** Per destination namespace: the candidate policies and the label keys their selectors read. */
interface NamespaceIndex {
  readonly candidates: readonly CompiledPolicy[];
  /** Candidates attached with targetRef(s): they apply only through the workload's targets. */
  readonly targeted: readonly CompiledPolicy[];
  readonly keys: readonly string[];
  readonly root: PlanNode;
}

interface PlanNode {
  plan?: WorkloadPlan;
  /** Keyed by a label value, `undefined` for "label not set" (distinct from every value, the empty one included). */
  next?: Map<string | undefined, PlanNode>;
}

/**
 * A compiled, immutable policy set. Decision order (istio.io "Authorization policy" concept page; istio/istio
 * `pilot/pkg/security/authz/builder`): CUSTOM is left to its provider; any enforced DENY rule that matches denies;
 * with no enforced ALLOW policy on the workload the request is allowed; otherwise some ALLOW rule must match.
 * AUDIT never changes the result; dry-run policies are evaluated and reported as shadow results only.
 */
export class PolicySet implements CompiledPolicySet {
  readonly options: ResolvedCompileOptions;
  readonly policies: readonly LoadedPolicy[];
  /** The policies by namespace, each namespace compiled on first use (namespaces.ts). */
  private readonly groups: NamespaceGroups;
  private readonly byWorkloadNs = new Map<string, NamespaceIndex>();
  private planCount = 0;
  /** Numbers the plans for their cache keys; never reset (a plan rebuilt after a reset gets a new number). */
  private planIds = 0;
  private readonly labelsMatterByNs = new Map<string, boolean>();

  /**
   * `compiled`: compiled forms of some (or all) of the policies, made under these options (see
   * {@link compilePolicySetInSlices}); without it, what `previous` compiled under the same options is reused.
   * Everything else is compiled per namespace when first needed.
   */
  constructor(
    policies: readonly LoadedPolicy[],
    options: CompileOptions,
    readonly generation: number,
    previous: PolicySet | null = null,
    compiled?: ReadonlyMap<LoadedPolicy, CompiledPolicy>,
  ) {
    this.options = resolveCompileOptions(options);
    this.policies = Object.freeze([...policies]);
    const known = compiled ?? PolicySet.reusable(previous, this.options);
    this.groups = new NamespaceGroups(this.policies, this.options, known);
  }

  /**
   * Compiles, in the background and in slices, every policy no request has needed yet; decisions are the same
   * before and after (see namespaces.ts). Stops when `stop()` says so (the set was replaced).
   */
  warm(yielder: Yielder, stop: () => boolean): Promise<void> {
    return this.groups.warm(yielder, stop);
  }

  /** The root namespace's policies: they apply to every workload of the mesh. */
  private get root(): readonly CompiledPolicy[] {
    return this.groups.compiled(this.options.rootNamespace);
  }

  /** @internal Every compiled form this set holds so far (what the next set may reuse). */
  compiledSoFar(): Iterable<CompiledPolicy> {
    return this.groups.compiledSoFar();
  }

  /**
   * @internal A policy object the previous set compiled under the same options compiles to the same thing: reuse
   * it (a reload of one file then compiles only that file's policies). Compiled policies are immutable; plans are
   * not shared, they are rebuilt per set.
   */
  static reusable(
    previous: PolicySet | null,
    options: ResolvedCompileOptions,
  ): Map<LoadedPolicy, CompiledPolicy> | null {
    if (previous === null || !sameOptions(previous.options, options)) return null;
    const out = new Map<LoadedPolicy, CompiledPolicy>();
    for (const c of previous.groups.compiledSoFar()) out.set(c.loaded, c);
    return out;
  }

  /** The policies that select the workload (root namespace first), CUSTOM included. */
  policiesFor(workload: WorkloadRef): LoadedPolicy[] {
    return this.planFor(workload).policies.map((p) => p.loaded);
  }

  /**
   * @internal The compiled per-workload plan, built on first use per (namespace, selector labels, targets). Read
   * by this class and by tests of compiled plans only: callers read a set through {@link CompiledPolicySet}.
   */
  planFor(workload: WorkloadRef): WorkloadPlan {
    let ns = this.byWorkloadNs.get(workload.namespace);
    if (ns === undefined) {
      if (this.planCount >= PLAN_CACHE_LIMIT) this.resetPlans();
      ns = this.namespaceIndex(workload.namespace);
      this.byWorkloadNs.set(workload.namespace, ns);
    }
    // Walk the label values the selectors of this namespace read (usually one or two keys): a few Map lookups on
    // short strings, instead of building and hashing a key from every label on every request.
    let node = ns.root;
    const labels = workload.labels;
    for (const k of ns.keys) node = childOf(node, labels[k]);
    // targetRef policies: one more step keyed by which of them attach (rare; only namespaces that have them pay).
    let attached: CompiledPolicy[] | null = null;
    if (ns.targeted.length > 0) {
      attached = ns.targeted.filter((p) =>
        targetsWorkload(p.targets!, p.namespace, this.options.rootNamespace, workload),
      );
      node = childOf(node, attached.map((p) => ns.targeted.indexOf(p)).join(','));
    }
    if (node.plan === undefined) {
      const chosen = ns.candidates.filter((p) => selects(p, labels) || (attached?.includes(p) ?? false));
      // The decision depends on the workload only through this plan, so the plan (with the generation) is what the
      // decision cache keys on beside the request's attributes: workloads that share a plan share cached decisions.
      node.plan = buildPlan(chosen, `${this.generation}|p${this.planIds++}|`);
      this.planCount++;
    }
    return node.plan;
  }

  explain(workload: WorkloadRef, request: RequestAttributes): Explanation {
    const ns = this.byWorkloadNs.get(workload.namespace) ?? this.namespaceIndex(workload.namespace);
    const notAttached = ns.targeted.filter(
      (p) => !targetsWorkload(p.targets!, p.namespace, this.options.rootNamespace, workload),
    );
    const inputs = {
      decision: this.evaluate(workload, request),
      policies: this.planFor(workload).policies,
      notAttached,
      pathNormalization: this.options.pathNormalization,
    };
    return explainDecision(inputs, workload, request);
  }

  uncovered(workloads: readonly WorkloadRef[]): WorkloadRef[] {
    return workloads.filter((w) => !this.planFor(w).hasEnforcedAllow);
  }

  /** The policies that may apply to a workload of the namespace: the root namespace's, then the namespace's own. */
  private candidatesIn(namespace: string): readonly CompiledPolicy[] {
    return namespace === this.options.rootNamespace ? this.root : [...this.root, ...this.groups.compiled(namespace)];
  }

  private namespaceIndex(namespace: string): NamespaceIndex {
    const candidates = this.candidatesIn(namespace);
    const keys = new Set<string>();
    for (const p of candidates) for (const [k] of p.selector) keys.add(k);
    const targeted = candidates.filter((p) => p.targets !== null);
    // The tree is built and walked in this one order (any order: it is fixed per index).
    return { candidates, targeted, keys: [...keys], root: {} };
  }

  private resetPlans(): void {
    this.byWorkloadNs.clear();
    this.planCount = 0;
  }

  labelsMatter(namespace: string): boolean {
    let known = this.labelsMatterByNs.get(namespace);
    if (known === undefined) {
      known = this.candidatesIn(namespace).some(selectsByWorkload);
      if (this.labelsMatterByNs.size >= PLAN_CACHE_LIMIT) this.labelsMatterByNs.clear();
      this.labelsMatterByNs.set(namespace, known);
    }
    return known;
  }

  attributesFor(workload: WorkloadRef): AttributeUse {
    return this.planFor(workload).uses;
  }

  keyPlanFor(workload: WorkloadRef): KeyPlan {
    return this.planFor(workload).key;
  }

  /** Synchronous, no I/O; allocates only the Decision when shadow or audit results must be attached. */
  evaluate(workload: WorkloadRef, request: RequestAttributes): Decision {
    const plan = this.planFor(workload);
    let path = '';
    if (plan.readsPath) {
      const normalized = normalizePath(request.path, this.options.pathNormalization);
      if (!normalized.ok) return invalidRequest(normalized.reason);
      path = normalized.path;
    }
    const decision = decide(plan, request, path);
    if (plan.shadow.length === 0 && plan.audit.length === 0) return decision;
    return {
      ...decision,
      shadow: plan.shadow.length === 0 ? NONE : shadowResults(plan, decision, request, path),
      audit: plan.audit.length === 0 ? NONE : auditResults(plan, request, path),
    };
  }
}

/**
 * An enforced ALLOW or DENY policy that applies to some workloads of its namespace and not others. Dry-run and
 * AUDIT policies never change a decision, and CUSTOM is its provider's, so they do not make labels matter.
 */
function selectsByWorkload(p: CompiledPolicy): boolean {
  if (p.dryRun || (p.action !== 'ALLOW' && p.action !== 'DENY')) return false;
  return p.selector.length > 0 || p.targets !== null;
}

/**
 * Called between pieces of work: returns a promise when the caller should let other work run first (a reload
 * yields to the event loop so Checks keep being answered), else undefined. Supplied by the caller: policy/ does
 * no scheduling of its own.
 */
export type Yielder = () => Promise<void> | undefined;

/**
 * {@link compilePolicySet} for a reload, in slices: asks `yielder` after each piece of work whether to pause. Only
 * the policies that changed (objects `previous` did not hold; an unchanged file keeps its parsed objects) are
 * compiled now; what `previous` compiled is reused, and an unchanged policy of a namespace no request has reached
 * yet stays to be compiled on first use, as in `previous`. The set serving meanwhile is untouched; the caller swaps
 * the result in when it resolves. Gives a set with the same decisions.
 */
export async function compilePolicySetInSlices(
  policies: readonly LoadedPolicy[],
  options: CompileOptions,
  generation: number,
  previous: PolicySet | null,
  yielder: Yielder,
): Promise<PolicySet> {
  const resolved = resolveCompileOptions(options);
  const same = previous !== null && sameOptions(previous.options, resolved);
  // What `previous` holds, gathered in slices too (a 50k-rule set is 10k entries).
  const reuse = new Map<LoadedPolicy, CompiledPolicy>();
  const before = new Set<LoadedPolicy>();
  if (same) {
    let n = 0;
    for (const c of previous.compiledSoFar()) {
      reuse.set(c.loaded, c);
      if (++n % CHEAP_STEPS === 0) await pauseIfDue(yielder);
    }
    for (const p of previous.policies) {
      before.add(p);
      if (++n % CHEAP_STEPS === 0) await pauseIfDue(yielder);
    }
  }
  const compiled = new Map<LoadedPolicy, CompiledPolicy>();
  for (const p of policies) {
    const known = reuse.get(p);
    if (known !== undefined) compiled.set(p, known);
    else if (!before.has(p)) compiled.set(p, compilePolicy(p, resolved));
    await pauseIfDue(yielder);
  }
  return new PolicySet(policies, resolved, generation, previous, compiled);
}

/** Cheap steps (a lookup, an insert) between two questions to the yielder. */
const CHEAP_STEPS = 512;

async function pauseIfDue(yielder: Yielder): Promise<void> {
  const pause = yielder();
  if (pause !== undefined) await pause;
}

/** Compiles loaded policies into a set. */
export function compilePolicySet(
  policies: readonly LoadedPolicy[],
  options: CompileOptions,
  generation: number,
  previous: PolicySet | null = null,
): PolicySet {
  return new PolicySet(policies, options, generation, previous);
}

function sameOptions(a: ResolvedCompileOptions, b: ResolvedCompileOptions): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function decide(plan: WorkloadPlan, request: RequestAttributes, path: string): Decision {
  const denied = plan.deny.firstMatch(request, path);
  if (denied !== null) return denied.decision;
  if (!plan.hasEnforcedAllow) return plan.policies.length === 0 ? NO_POLICY : no_allow_policy;
  const allowed = plan.allow.firstMatch(request, path);
  if (allowed !== null) return allowed.decision;
  return no_allow_matched;
}

const NO_POLICY: Decision = Object.freeze({
  allowed: true,
  code: 'no_allow_policy',
  reason: 'no policy selects this workload (allowed: Istio allows when no ALLOW policy applies)',
  policy: null,
  ruleIndex: null,
  shadow: NONE,
  audit: NONE,
});

const no_allow_policy: Decision = Object.freeze({
  ...NO_POLICY,
  reason: 'no ALLOW policy selects this workload and no DENY rule matched (allowed)',
});

const no_allow_matched: Decision = Object.freeze({
  allowed: false,
  code: 'no_allow_matched',
  reason: 'no ALLOW policy matched (ALLOW policies select this workload, so anything they do not allow is denied)',
  policy: null,
  ruleIndex: null,
  shadow: NONE,
  audit: NONE,
});

function invalidRequest(reason: string): Decision {
  return {
    allowed: false,
    code: 'invalid_request',
    reason: `invalid request path: ${reason}`,
    policy: null,
    ruleIndex: null,
    shadow: NONE,
    audit: NONE,
  };
}

/**
 * Istio's shadow rules: the staged policies of each action form a rule set of their own, evaluated beside the
 * enforced one and never mixed with it. Staged DENY: would deny when one of its rules matches. Staged ALLOW: would
 * allow only when one of its own rules matches, even if an enforced ALLOW admitted the request. The filters run
 * DENY then ALLOW, so when an enforced DENY rejected the request the ALLOW filter (and its shadow rules) never ran:
 * no ALLOW shadow result then. Sources: istio/istio 1.30.3 `pilot/pkg/security/authz/builder/builder.go` (build:
 * shadowRules; filter order AUDIT, DENY, ALLOW) and its testdata `http/dry-run-mix-{in,out}.yaml`.
 */
function shadowResults(plan: WorkloadPlan, actual: Decision, r: RequestAttributes, path: string): ShadowResult[] {
  const out: ShadowResult[] = [];
  if (plan.shadowDeny.length > 0) out.push(shadowSet('DENY', plan.shadowDeny, r, path));
  if (plan.shadowAllow.length > 0 && actual.code !== 'deny_matched') {
    out.push(shadowSet('ALLOW', plan.shadowAllow, r, path));
  }
  return out;
}

function shadowSet(
  action: 'ALLOW' | 'DENY',
  staged: readonly CompiledPolicy[],
  r: RequestAttributes,
  path: string,
): ShadowResult {
  const policies = staged.map((p) => p.ref);
  for (const p of staged) {
    const ruleIndex = firstMatchingRule(p, r, path);
    if (ruleIndex !== null) return { action, policy: p.ref, ruleIndex, wouldAllow: action === 'ALLOW', policies };
  }
  return { action, policy: staged[0]!.ref, ruleIndex: null, wouldAllow: action === 'DENY', policies };
}

function auditResults(plan: WorkloadPlan, r: RequestAttributes, path: string): PolicyRef[] {
  const out: PolicyRef[] = [];
  for (const p of plan.audit) if (firstMatchingRule(p, r, path) !== null) out.push(p.ref);
  return out;
}

/** The plan-tree node one step below `node` along `step`, created on first use. */
function childOf(node: PlanNode, step: string | undefined): PlanNode {
  node.next ??= new Map();
  let child = node.next.get(step);
  if (child === undefined) {
    child = {};
    node.next.set(step, child);
  }
  return child;
}
