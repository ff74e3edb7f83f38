import type { FieldCheck } from './checks.js';
import { type CompiledPolicy, type CompiledRule, ruleMatches } from './compile.js';
import { bracketKeys, claimValues } from './conditions.js';
import { lineOf } from './model.js';
import { normalizePath, type PathNormalization } from './normalize.js';
import { describeTarget } from './targets.js';
import {
  type Decision,
  type EndUser,
  type Explanation,
  type PolicyExplanation,
  policyName,
  type RequestAttributes,
  type WorkloadRef,
} from './types.js';

/**
 * Why a request got its decision, in words a developer understands: for each policy that selects the workload,
 * each rule, and for rules that did not match the first condition that failed. The decision is the one
 * `evaluate()` returns (it is computed by it), so explanation and enforcement can never disagree.
 */

const ACTION_ORDER = { CUSTOM: 0, DENY: 1, ALLOW: 2, AUDIT: 3 } as const;

/** What a set hands over to explain one request: the decision it made and the workload's compiled view. */
export interface ExplainInputs {
  readonly decision: Decision;
  /** Every policy that selects the workload (its plan's policies). */
  readonly policies: readonly CompiledPolicy[];
  /** The targetRef policies the workload's namespace could see that do not attach to it. */
  readonly notAttached: readonly CompiledPolicy[];
  readonly pathNormalization: PathNormalization;
}

/** The explanation `PolicySet.explain` returns, built from what the set decided and compiled. */
export function explainDecision(inputs: ExplainInputs, workload: WorkloadRef, request: RequestAttributes): Explanation {
  const normalized = normalizePath(request.path, inputs.pathNormalization);
  const path = normalized.ok ? normalized.path : '';
  const policies = [...inputs.policies]
    .sort((a, b) => ACTION_ORDER[a.action] - ACTION_ORDER[b.action])
    .map((p) => explainPolicy(p, request, path));
  const known = (workload.targets ?? []).map(describeTarget);
  const notAttached = inputs.notAttached.map((p) => ({
    policy: p.ref,
    targets: (p.targets ?? []).map(describeTarget),
    reason:
      known.length === 0
        ? 'not applied: this request is not known to be for any Service or Gateway (workload resolution gave no targets)'
        : `not applied: this request is for ${known.join(', ')}, none of which this policy targets`,
  }));
  return {
    workload,
    decision: inputs.decision,
    normalizedPath: normalized.ok ? normalized.path : null,
    pathNormalization: inputs.pathNormalization,
    policies,
    notAttached,
  };
}

function roleOf(p: CompiledPolicy): string {
  const provider = p.loaded.policy.spec.provider?.name ?? '';
  switch (p.action) {
    case 'CUSTOM':
      return `CUSTOM: decided by the external provider '${provider}', not by mesh-authz (its rules are not evaluated here)`;
    case 'DENY':
      return p.dryRun ? 'DENY (dry-run: reported, never enforced)' : 'DENY: a matching rule denies';
    case 'ALLOW':
      return p.dryRun ? 'ALLOW (dry-run: reported, never enforced)' : 'ALLOW: a matching rule allows';
    default:
      return 'AUDIT: a match only marks the request for audit logging';
  }
}

function explainPolicy(p: CompiledPolicy, r: RequestAttributes, path: string): PolicyExplanation {
  const rules =
    p.action === 'CUSTOM'
      ? []
      : p.rules.map((rule) => {
          const matched = ruleMatches(rule, r, path);
          const line = lineOf(p.loaded, `spec.rules[${rule.index}]`);
          return { index: rule.index, line, matched, failure: matched ? null : firstFailure(rule, r, path) };
        });
  return { policy: p.ref, dryRun: p.dryRun, role: roleOf(p), rules };
}

function firstFailure(rule: CompiledRule, r: RequestAttributes, path: string): string {
  for (const [name, clauses] of [
    ['from', rule.from],
    ['to', rule.to],
  ] as const) {
    if (clauses === null) continue;
    const failures: string[] = [];
    for (const clause of clauses) {
      const failed = clause.find((c) => !c.test(r, path));
      if (failed === undefined) break;
      failures.push(describe(failed, r, path));
    }
    if (failures.length === clauses.length) {
      return failures.length === 1 ? failures[0]! : `no \`${name}\` entry matched: ${failures.join('; ')}`;
    }
  }
  const failed = rule.when.find((c) => !c.test(r, path));
  return failed ? describe(failed, r, path) : 'no condition failed';
}

const q = (s: string) => `'${s}'`;
const list = (values: readonly string[]) => `[${values.join(', ')}]`;

/** The request value a check looked at, in words. */
function actual(c: FieldCheck, r: RequestAttributes, path: string): string {
  switch (c.reads) {
    case 'peer':
      return r.peer ? `the peer is ${r.peer.spiffeId}` : 'the request has no peer identity (no mTLS)';
    case 'user':
      return r.user ? userValue(c.field, r.user) : 'the request has no verified end-user token';
    case 'sourceIp':
      return `the source IP is ${q(r.sourceIp)}`;
    case 'remoteIp':
      return `the remote (original client) IP is ${q(r.remoteIp)}`;
    case 'destinationIp':
      return `the destination IP is ${q(r.destinationIp)}`;
    case 'destinationPort':
      return `the destination port is ${r.destinationPort}`;
    case 'host':
      return `the host is ${q(r.host)}`;
    case 'method':
      return `the method is ${q(r.method)}`;
    case 'path':
      return `the normalized path is ${q(path)}`;
    case 'header': {
      const v = r.headers[c.header!];
      return v === undefined ? `the request has no ${c.header} header` : `header ${c.header} is ${q(v)}`;
    }
    case 'sni':
      return `the SNI is ${q(r.sni)}`;
    default:
      return 'the filter metadata did not match';
  }
}

/** The end-user value the check compared, named (the claim's values, the audiences…), not only who the user is. */
function userValue(field: string, user: EndUser): string {
  const who = `${user.issuer}/${user.subject}`;
  if (field.startsWith('request.auth.claims[')) {
    const keys = bracketKeys(field);
    const name = keys.join('.');
    const values = claimValues(user, keys);
    return values.length > 0
      ? `the end user's ${name} claim is ${list(values)} (user ${who})`
      : `the end user ${who} has no ${name} claim`;
  }
  if (field === 'request.auth.audiences') return `the token's audiences are ${list(user.audiences)} (user ${who})`;
  if (field === 'request.auth.presenter') {
    return user.presenter === null ? `the token has no azp (user ${who})` : `the token's azp is ${q(user.presenter)}`;
  }
  // requestPrincipals, notRequestPrincipals and request.auth.principal compare <issuer>/<subject>.
  return `the end user's request principal is ${who}`;
}

function describe(c: FieldCheck, r: RequestAttributes, path: string): string {
  const seen = actual(c, r, path);
  if (c.at.includes('.when[')) {
    const parts: string[] = [];
    if (c.values.length) parts.push(`one of ${list(c.values)}`);
    if (c.notValues.length) parts.push(`none of ${list(c.notValues)}`);
    return `${c.at} (${c.field}) requires ${parts.join(' and ')}, but ${seen}`;
  }
  if (c.notValues.length) return `${c.at} excludes ${list(c.notValues)}, and ${seen}`;
  return `${c.at} requires one of ${list(c.values)}, but ${seen}`;
}

/** Plain text for a terminal. */
export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  const d = e.decision;
  const labels = Object.entries(e.workload.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const targets = (e.workload.targets ?? []).map(describeTarget).join(',');
  lines.push(
    `workload: namespace ${e.workload.namespace || '(none)'}${labels ? `, labels ${labels}` : ''}${targets ? `, targets ${targets}` : ''}`,
  );
  lines.push(
    e.normalizedPath === null
      ? `path: cannot be normalized (${e.pathNormalization})`
      : `path: ${e.normalizedPath} (normalization ${e.pathNormalization})`,
  );
  lines.push(`decision: ${d.allowed ? 'ALLOW' : 'DENY'} (${d.code}): ${d.reason}`);
  if (e.policies.length === 0) lines.push('no policy selects this workload');
  for (const p of e.policies) {
    const ref = p.policy;
    const where = ref.source ? ` at ${ref.source.file}:${ref.source.line}` : '';
    lines.push('', `policy ${policyName(ref)}${where}`, `  ${p.role}`);
    if (p.rules.length === 0 && ref.action !== 'CUSTOM') lines.push('  (no rules: matches nothing)');
    for (const rule of p.rules) {
      lines.push(`  rule ${rule.index} (line ${rule.line}): ${rule.matched ? 'MATCHED' : `no match: ${rule.failure}`}`);
    }
  }
  for (const s of d.shadow) {
    // Istio evaluates the staged policies of one action as a set of their own (Envoy RBAC shadow rules).
    const staged = (s.policies ?? [s.policy]).map(policyName).join(', ');
    const rule =
      s.ruleIndex === null ? 'no staged rule matched' : `${policyName(s.policy)} rule ${s.ruleIndex} matched`;
    lines.push(
      '',
      `dry-run ${s.action ?? s.policy.action} set [${staged}]: ${rule}; the staged set alone would ${s.wouldAllow ? 'ALLOW' : 'DENY'}`,
    );
  }
  for (const a of d.audit) lines.push('', `audit: ${policyName(a)} matched (request marked for audit)`);
  for (const t of e.notAttached) {
    const where = t.policy.source ? ` at ${t.policy.source.file}:${t.policy.source.line}` : '';
    lines.push('', `policy ${policyName(t.policy)}${where} (targetRef ${t.targets.join(', ')})`);
    lines.push(`  ${t.reason}`);
  }
  return lines.join('\n');
}
