import { actionOf, type PolicyRule, type PolicySource } from '../policy/model.js';
import type { WorkloadRef } from '../policy/types.js';
import { policyName } from '../policy/types.js';
import { flowRequest, identityFor } from './attributes.js';
import { flowDestination } from './observe.js';
import { DRY_RUN_SINCE_ANNOTATION, type PolicyEntry } from './policy-model.js';
import { canReach, type ReachOptions, selecting } from './reach.js';
import { type Evaluate, exercisedRules, type KnownWorkload, knownIdentities, knownWorkloads } from './report.js';
import { destinationKey, destinationName, type FlowRecord, sourceName } from './types.js';

/**
 * `audit`: how open is the mesh today? Coverage (share of known workloads with an enforced ALLOW policy), rules
 * that allow anything, policies left in dry-run too long, rules no observed flow exercised, and workloads that
 * accept callers from other namespaces. Pure: policies, workloads and flows in; findings out.
 */

export interface AuditInput {
  readonly policies: readonly PolicyEntry[];
  readonly workloads: readonly KnownWorkload[];
  /** Observed flows; null when none were given (the flow-based findings are then not computed). */
  readonly flows: readonly FlowRecord[] | null;
  readonly evaluate?: Evaluate | undefined;
  readonly reach: ReachOptions;
  /** ms since epoch. */
  readonly now: number;
  readonly maxDryRunDays: number;
  readonly minCoverage: number;
}

export type AllowAnythingKind = 'any-request' | 'any-caller' | 'any-identity';

export interface AllowAnythingRule {
  readonly policy: string;
  readonly ruleIndex: number;
  readonly kind: AllowAnythingKind;
  readonly dryRun: boolean;
  /** In the root namespace with no selector: applies to the whole mesh. */
  readonly meshWide: boolean;
  readonly location: string;
}

export interface LongDryRun {
  readonly policy: string;
  /** RFC 3339, or null when neither the annotation nor creationTimestamp says. */
  readonly since: string | null;
  readonly days: number | null;
  readonly tooLong: boolean;
}

export interface CrossNamespace {
  readonly workload: string;
  /** Any identity from any other namespace can call it (no policy, or an identity-free ALLOW rule). */
  readonly openToAnyNamespace: boolean;
  /** Known identities from other namespaces that the policies admit. */
  readonly admits: readonly string[];
  /** Other-namespace callers actually observed being allowed. */
  readonly observed: readonly string[];
}

export interface AuditReport {
  readonly coverage: {
    readonly workloads: number;
    readonly covered: number;
    readonly ratio: number;
    readonly uncovered: readonly string[];
  };
  readonly minCoverage: number;
  readonly passed: boolean;
  readonly allowAnything: readonly AllowAnythingRule[];
  readonly longDryRun: readonly LongDryRun[];
  /** null without flows (or without an engine to evaluate them). */
  readonly unusedRules: readonly { readonly policy: string; readonly ruleIndex: number }[] | null;
  readonly crossNamespace: readonly CrossNamespace[];
}

/**
 * A source that admits every authenticated identity: only `principals`/`namespaces` are set, and each holds `*`
 * (values of one field are ORed, so `["*", "ns/a"]` admits anyone too). Any other field narrows it.
 */
function isWildcardSource(s: PolicySource): boolean {
  const set = Object.entries(s).filter(([, v]) => v !== undefined);
  return (
    set.length > 0 && set.every(([k, v]) => (k === 'principals' || k === 'namespaces') && (v as string[]).includes('*'))
  );
}

/**
 * How much an ALLOW rule admits: everything (`any-request`), any caller (no `from`), any identity (a `from` source
 * that admits every identity, whatever the rule's operations or conditions), or less. Like `any-caller`, an
 * `any-identity` rule with `to`/`when` is still flagged: who may call is the open part.
 */
export function allowAnythingKind(rule: PolicyRule): AllowAnythingKind | null {
  const noTo = rule.to === undefined;
  const noWhen = rule.when === undefined || rule.when.length === 0;
  if (rule.from === undefined) return noTo && noWhen ? 'any-request' : 'any-caller';
  if (rule.from.some((f) => isWildcardSource(f.source))) return 'any-identity';
  return null;
}

function sinceOf(e: PolicyEntry): string | null {
  return e.policy.metadata.annotations?.[DRY_RUN_SINCE_ANNOTATION] ?? e.policy.metadata.creationTimestamp ?? null;
}

/** A caller from a namespace no real workload has: it stands for "anyone from elsewhere". */
const OUTSIDER_NS = 'mesh-authz-audit-outsider';

export function audit(input: AuditInput): AuditReport {
  const { policies, reach } = input;
  const workloads = knownWorkloads(input.flows ?? [], input.workloads);
  const nameOf = (w: WorkloadRef): string => destinationName(flowDestination(w));

  const uncovered: string[] = [];
  for (const w of workloads.values()) {
    if (!selecting(policies, w, reach.rootNamespace).some((e) => actionOf(e.policy) === 'ALLOW')) {
      uncovered.push(nameOf(w));
    }
  }
  const total = workloads.size;
  const ratio = total === 0 ? 0 : (total - uncovered.length) / total;

  const allowAnything: AllowAnythingRule[] = [];
  for (const e of policies) {
    if (actionOf(e.policy) !== 'ALLOW') continue;
    (e.policy.spec.rules ?? []).forEach((rule, i) => {
      const kind = allowAnythingKind(rule);
      if (kind === null) return;
      allowAnything.push({
        policy: policyName(e.policy.metadata),
        ruleIndex: i,
        kind,
        dryRun: e.dryRun,
        // A targetRef policy is never mesh-wide: it attaches only to its target.
        meshWide:
          e.policy.metadata.namespace === reach.rootNamespace &&
          e.policy.spec.selector === undefined &&
          e.policy.spec.targetRef === undefined &&
          !e.policy.spec.targetRefs?.length,
        location: e.source ? `${e.source.file}:${e.source.line}` : '',
      });
    });
  }

  const longDryRun: LongDryRun[] = policies
    .filter((e) => e.dryRun)
    .map((e) => {
      const since = sinceOf(e);
      const t = since === null ? Number.NaN : Date.parse(since);
      const days = Number.isNaN(t) ? null : Math.floor((input.now - t) / 86_400_000);
      return {
        policy: policyName(e.policy.metadata),
        since,
        days,
        tooLong: days !== null && days > input.maxDryRunDays,
      };
    });

  let unusedRules: { policy: string; ruleIndex: number }[] | null = null;
  if (input.flows !== null && input.evaluate !== undefined) {
    const exercised = new Set<string>();
    for (const f of input.flows) {
      const w = workloads.get(destinationKey(f.destination));
      if (w === undefined) continue;
      for (const r of exercisedRules(input.evaluate(w, flowRequest(f)))) exercised.add(r);
    }
    unusedRules = [];
    for (const e of policies) {
      const a = actionOf(e.policy);
      if (a !== 'ALLOW' && a !== 'DENY') continue;
      const n = e.policy.spec.rules?.length ?? 0;
      for (let i = 0; i < n; i++) {
        if (!exercised.has(`${policyName(e.policy.metadata)}#${i}`))
          unusedRules.push({ policy: policyName(e.policy.metadata), ruleIndex: i });
      }
    }
  }

  const identities = knownIdentities(input.flows ?? [], input.workloads, reach.trustDomain);
  const crossNamespace: CrossNamespace[] = [];
  for (const [key, w] of workloads) {
    const outsider = identityFor(OUTSIDER_NS, 'any', reach.trustDomain);
    const openToAnyNamespace = canReach(policies, outsider, w, reach);
    const admits = identities
      .filter((s) => s.namespace !== w.namespace && canReach(policies, s, w, reach))
      .map(sourceName);
    const observed = [
      ...new Set(
        (input.flows ?? [])
          .filter(
            (f) =>
              destinationKey(f.destination) === key && f.decisions.allowed > 0 && f.source.namespace !== w.namespace,
          )
          .map((f) => sourceName(f.source)),
      ),
    ].sort();
    if (openToAnyNamespace || admits.length > 0 || observed.length > 0) {
      crossNamespace.push({ workload: nameOf(w), openToAnyNamespace, admits, observed });
    }
  }

  return {
    coverage: { workloads: total, covered: total - uncovered.length, ratio, uncovered: uncovered.sort() },
    minCoverage: input.minCoverage,
    passed: ratio >= input.minCoverage,
    allowAnything,
    longDryRun,
    unusedRules,
    crossNamespace: crossNamespace.sort((a, b) => (a.workload < b.workload ? -1 : 1)),
  };
}

const pct = (r: number): string => `${(r * 100).toFixed(1)}%`;

export function formatAudit(r: AuditReport): string {
  const c = r.coverage;
  const lines = [
    `coverage: ${c.covered}/${c.workloads} workloads have an enforced ALLOW policy (${pct(c.ratio)}; minimum ${pct(r.minCoverage)}) — ${r.passed ? 'PASS' : 'FAIL'}`,
  ];
  for (const u of c.uncovered) lines.push(`  uncovered: ${u}`);
  lines.push(`allow-anything rules: ${r.allowAnything.length}`);
  for (const a of r.allowAnything) {
    const flags = [a.dryRun ? 'dry-run' : '', a.meshWide ? 'mesh-wide' : ''].filter((x) => x !== '').join(', ');
    lines.push(
      `  ${a.policy} rule ${a.ruleIndex}: ${a.kind}${flags ? ` (${flags})` : ''}${a.location ? ` at ${a.location}` : ''}`,
    );
  }
  lines.push(
    `dry-run policies: ${r.longDryRun.length} (${r.longDryRun.filter((d) => d.tooLong).length} staged too long)`,
  );
  for (const d of r.longDryRun) {
    const age = d.days === null ? 'since unknown' : `for ${d.days} days (since ${d.since})`;
    lines.push(`  ${d.policy}: dry-run ${age}${d.tooLong ? ' — enforce it or remove it' : ''}`);
  }
  if (r.unusedRules === null) lines.push('rules unused by flows: n/a (no --flows given)');
  else {
    lines.push(`rules unused by flows: ${r.unusedRules.length}`);
    for (const u of r.unusedRules) lines.push(`  ${u.policy} rule ${u.ruleIndex}`);
  }
  lines.push(`workloads accepting other namespaces: ${r.crossNamespace.length}`);
  for (const x of r.crossNamespace) {
    const parts = [
      x.openToAnyNamespace ? 'open to ANY namespace' : '',
      x.admits.length > 0 ? `admits ${x.admits.join(', ')}` : '',
      x.observed.length > 0 ? `observed ${x.observed.join(', ')}` : '',
    ].filter((p) => p !== '');
    lines.push(`  ${x.workload}: ${parts.join('; ')}`);
  }
  return `${lines.join('\n')}\n`;
}
