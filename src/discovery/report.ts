import { actionOf } from '../policy/model.js';
import { type Decision, policyName, type RequestAttributes, type WorkloadRef } from '../policy/types.js';
import { flowRequest, identityFor, workloadOf } from './attributes.js';
import { flowDestination } from './observe.js';
import type { PolicyEntry } from './policy-model.js';
import { canReach, type ReachOptions, type SurfaceFigure, selecting, surface } from './reach.js';
import type { SkipReason, Suggestion } from './suggest.js';
import {
  destinationKey,
  destinationName,
  type FlowDestination,
  type FlowRecord,
  type FlowSource,
  sourceName,
} from './types.js';

/**
 * The discovery report: per workload, what was observed, what the current policies deny, which of their rules no
 * flow exercised, and the attack-surface figure (caller→workload pairs allowed today vs under the suggestion).
 */

/** Evaluates one request with the current policies (a compiled set's `evaluate`). */
export type Evaluate = (workload: WorkloadRef, request: RequestAttributes) => Decision;

export interface KnownWorkload {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount?: string | undefined;
}

export interface ReportInput {
  readonly flows: readonly FlowRecord[];
  readonly suggestion: Suggestion;
  readonly current: readonly PolicyEntry[];
  /** When given, flows are re-evaluated against the current policies (denials, unused rules). */
  readonly evaluate?: Evaluate | undefined;
  /** The suggestion, compiled: decides which flows it would deny. Without it, pair reachability decides. */
  readonly evaluateSuggested?: Evaluate | undefined;
  readonly workloads?: readonly KnownWorkload[];
  readonly reach: ReachOptions;
}

export interface RuleRef {
  readonly policy: string;
  readonly ruleIndex: number;
}

export interface WorkloadReport {
  readonly workload: string;
  readonly flowsObserved: number;
  readonly requests: number;
  /** Flows whose recorded requests were all denied or would-be denied. */
  readonly flowsDeniedRecorded: number;
  /** Flows the current policies deny when re-evaluated now (null without policies to evaluate). */
  readonly flowsDeniedByCurrent: number | null;
  readonly rulesNeverExercised: readonly RuleRef[] | null;
  /** Caller identities that can reach this workload, today and under the suggestion. */
  readonly callersBefore: number;
  readonly callersAfter: number;
}

export interface DiscoveryReport {
  readonly granularity: string;
  readonly flows: number;
  readonly requests: number;
  readonly learned: number;
  readonly skipped: Readonly<Record<SkipReason, number>>;
  /** Destinations without a naming label (`ns {labels}`): nothing was suggested for them; label them, or list them
   * under `policy.workloads`, and discover again. */
  readonly unresolved: readonly string[];
  /** Observed flows the suggestion would deny (they were not learned): stray callers to look at. */
  readonly wouldBeDenied: readonly string[];
  /** Flows not learned that the suggestion still allows (its granularity is too coarse to exclude them). */
  readonly notLearnedButAllowed: readonly string[];
  readonly identities: number;
  readonly workloads: readonly WorkloadReport[];
  readonly surface: SurfaceFigure;
}

/** Every caller identity known: seen in flows, or a known workload's service account. */
export function knownIdentities(
  flows: readonly FlowRecord[],
  workloads: readonly KnownWorkload[],
  td: string,
): FlowSource[] {
  const out = new Map<string, FlowSource>();
  for (const f of flows) if (f.source.spiffeId !== '') out.set(f.source.spiffeId, f.source);
  for (const w of workloads) {
    if (w.serviceAccount === undefined) continue;
    const id = identityFor(w.namespace, w.serviceAccount, td);
    if (!out.has(id.spiffeId)) out.set(id.spiffeId, id);
  }
  return [...out.values()].sort((a, b) => (a.spiffeId < b.spiffeId ? -1 : 1));
}

/** Every destination workload known: seen in flows, or listed in the config. Keyed like the flow table. */
export function knownWorkloads(
  flows: readonly FlowRecord[],
  workloads: readonly KnownWorkload[],
): Map<string, WorkloadRef> {
  const out = new Map<string, WorkloadRef>();
  for (const w of workloads) out.set(destinationKey(flowDestination(w)), { namespace: w.namespace, labels: w.labels });
  for (const f of flows) {
    const k = destinationKey(f.destination);
    if (!out.has(k)) out.set(k, workloadOf(f));
  }
  return out;
}

/** Rules of the policies that apply to a workload (enforced and dry-run), as `ns/name#i`. */
function rulesApplying(current: readonly PolicyEntry[], w: WorkloadRef, root: string): RuleRef[] {
  const staged = current.filter((e) => e.dryRun);
  const applying = [
    ...selecting(current, w, root),
    ...selecting(
      staged.map((e) => ({ ...e, dryRun: false })),
      w,
      root,
    ),
  ];
  const out: RuleRef[] = [];
  for (const e of applying) {
    if (actionOf(e.policy) !== 'ALLOW' && actionOf(e.policy) !== 'DENY') continue;
    const n = e.policy.spec.rules?.length ?? 0;
    for (let i = 0; i < n; i++) out.push({ policy: policyName(e.policy.metadata), ruleIndex: i });
  }
  return out;
}

/** The rules a decision credits: the deciding one, and those of dry-run policies that matched. */
export function exercisedRules(d: Decision): string[] {
  const out: string[] = [];
  if (d.policy !== null && d.ruleIndex !== null) out.push(`${policyName(d.policy)}#${d.ruleIndex}`);
  for (const s of d.shadow) if (s.ruleIndex !== null) out.push(`${policyName(s.policy)}#${s.ruleIndex}`);
  return out;
}

export function buildReport(input: ReportInput): DiscoveryReport {
  const known = input.workloads ?? [];
  const identities = knownIdentities(input.flows, known, input.reach.trustDomain);
  const workloads = knownWorkloads(input.flows, known);
  const suggested: PolicyEntry[] = input.suggestion.policies.map((p) => ({
    policy: p.policy,
    source: null,
    dryRun: false,
  }));
  const byDest = new Map<string, FlowRecord[]>();
  for (const f of input.flows) {
    const k = destinationKey(f.destination);
    const list = byDest.get(k);
    if (list) list.push(f);
    else byDest.set(k, [f]);
  }
  const reports: WorkloadReport[] = [];
  for (const [k, w] of [...workloads].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const flows = byDest.get(k) ?? [];
    let deniedNow: number | null = null;
    let unused: RuleRef[] | null = null;
    if (input.evaluate !== undefined) {
      const exercised = new Set<string>();
      deniedNow = 0;
      for (const f of flows) {
        const d = input.evaluate(w, flowRequest(f));
        if (!d.allowed) deniedNow++;
        for (const r of exercisedRules(d)) exercised.add(r);
      }
      unused = rulesApplying(input.current, w, input.reach.rootNamespace).filter(
        (r) => !exercised.has(`${r.policy}#${r.ruleIndex}`),
      );
    }
    reports.push({
      workload: destinationName(flowDestination(w)),
      flowsObserved: flows.length,
      requests: flows.reduce((n, f) => n + f.count, 0),
      flowsDeniedRecorded: flows.filter((f) => f.decisions.allowed === 0).length,
      flowsDeniedByCurrent: deniedNow,
      rulesNeverExercised: unused,
      callersBefore: identities.filter((s) => canReach(input.current, s, w, input.reach)).length,
      callersAfter: identities.filter((s) => canReach(suggested, s, w, input.reach)).length,
    });
  }
  const allowedBySuggestion = (f: FlowRecord): boolean =>
    input.evaluateSuggested !== undefined
      ? input.evaluateSuggested(workloadOf(f), flowRequest(f)).allowed
      : canReach(suggested, f.source, workloadOf(f), input.reach);
  const notLearned = input.suggestion.skipped.map((s) => ({
    text: `${sourceName(s.flow.source)} -> ${destinationName(s.flow.destination)} ${s.flow.method} ${s.flow.path} (${s.reason}, ${s.flow.count} requests)`,
    allowed: allowedBySuggestion(s.flow),
  }));
  const skipped: Record<SkipReason, number> = { denied: 0, anonymous: 0, excluded: 0, unresolved: 0, path: 0 };
  for (const s of input.suggestion.skipped) skipped[s.reason]++;
  return {
    granularity: input.suggestion.granularity,
    flows: input.flows.length,
    requests: input.flows.reduce((n, f) => n + f.count, 0),
    learned: input.suggestion.learned.length,
    skipped,
    unresolved: [
      ...new Set(
        input.suggestion.skipped
          .filter((x) => x.reason === 'unresolved')
          .map((x) => describeDestination(x.flow.destination)),
      ),
    ].sort(),
    wouldBeDenied: notLearned.filter((s) => !s.allowed).map((s) => s.text),
    notLearnedButAllowed: notLearned.filter((s) => s.allowed).map((s) => s.text),
    identities: identities.length,
    workloads: reports,
    surface: surface(input.current, suggested, identities, [...workloads.values()], input.reach),
  };
}

function describeDestination(d: FlowDestination): string {
  const labels = Object.entries(d.labels).map(([k, v]) => `${k}=${v}`);
  return `${d.namespace} {${labels.join(', ')}}`;
}

const pct = (r: number): string => `${(r * 100).toFixed(1)}%`;

export function formatReport(r: DiscoveryReport): string {
  const s = r.surface;
  const lines = [
    `# mesh-authz discovery report (granularity: ${r.granularity})`,
    '',
    `Flows: ${r.flows} (${r.requests} requests); learned ${r.learned}; not learned: ${r.skipped.denied} denied, ${r.skipped.anonymous} without identity, ${r.skipped.excluded} excluded, ${r.skipped.unresolved} to unresolved destinations, ${r.skipped.path} with a path no policy can hold exactly.`,
    '',
    '## Attack surface',
    '',
    `Allowed caller→workload pairs over ${r.identities} known identities × ${r.workloads.length} workloads (${s.pairs} pairs):`,
    `today ${s.before}, suggested ${s.after}: ${s.reduction} fewer (${pct(s.reductionRatio)} reduction).`,
    '',
    '## Workloads',
    '',
    '| workload | flows | requests | denied (recorded) | denied by current policies | rules never exercised | callers today → suggested |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const w of r.workloads) {
    const unused =
      w.rulesNeverExercised === null
        ? 'n/a'
        : w.rulesNeverExercised.length === 0
          ? 'none'
          : w.rulesNeverExercised.map((u) => `${u.policy} rule ${u.ruleIndex}`).join(', ');
    lines.push(
      `| ${w.workload} | ${w.flowsObserved} | ${w.requests} | ${w.flowsDeniedRecorded} | ${w.flowsDeniedByCurrent ?? 'n/a'} | ${unused} | ${w.callersBefore} → ${w.callersAfter} |`,
    );
  }
  if (r.unresolved.length > 0) {
    lines.push(
      '',
      '## Unresolved destinations (no naming label: nothing suggested)',
      '',
      'A selector could not name these workloads alone; a policy without one would admit their callers to the whole namespace. Give them an `app` (or `app.kubernetes.io/name`) label, or list them under `policy.workloads`, and discover again.',
      '',
      ...r.unresolved.map((d) => `- ${d}`),
    );
  }
  if (r.wouldBeDenied.length > 0) {
    lines.push('', '## Would be denied by the suggestion (not learned)', '', ...r.wouldBeDenied.map((f) => `- ${f}`));
  }
  if (r.notLearnedButAllowed.length > 0) {
    lines.push(
      '',
      '## Not learned, yet still allowed by the suggestion (use a finer granularity to exclude them)',
      '',
      ...r.notLearnedButAllowed.map((f) => `- ${f}`),
    );
  }
  return `${lines.join('\n')}\n`;
}
