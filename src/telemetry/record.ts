import type { CheckOutcome } from '../authz/outcome.js';
import { normalizePath, type PathNormalization } from '../policy/normalize.js';
import { policyName, type ShadowResult } from '../policy/types.js';

/**
 * The one place that decides which facts about a decision leave the process (decision log and span).
 *
 * Security: this is an allow-list. Only the fields below are copied out of a {@link CheckOutcome}; headers, the
 * query string, the peer certificate, the raw token and the user's claims are never read here, so no
 * `authorization`, cookie, XFCC or bearer value can reach a log line or a span, whatever a caller sends.
 */
export interface DecisionRecord {
  readonly decision_id: string;
  readonly trace_id: string;
  readonly span_id: string;
  /** `x-request-id` (Envoy's request id), to join with Envoy's access log. */
  readonly request_id: string;
  readonly allowed: boolean;
  readonly status: string;
  readonly http_status: number;
  /** Which phase decided: input, identity, decision or internal. */
  readonly phase: string;
  readonly reason_code: string;
  readonly reason: string;
  /** `namespace/name` of the deciding policy, or null. */
  readonly policy: string | null;
  readonly policy_action: string | null;
  /** The deciding rule's index within the policy's `spec.rules`, or null. */
  readonly rule: number | null;
  /** Global dry-run mode turned a deny into an allow. */
  readonly dry_run: boolean;
  /** Dry-run policies' would-be results. */
  readonly shadow: readonly ShadowRecord[];
  /** AUDIT policies that matched. */
  readonly audit: readonly string[];
  /** The verified SPIFFE ID of the caller, or null. */
  readonly source_principal: string | null;
  readonly source_ip: string | null;
  readonly user_issuer: string | null;
  readonly user_subject: string | null;
  readonly user_groups: readonly string[];
  /** The destination workload, how it was found (`WorkloadResolution`) and the registry's name for it. */
  readonly workload: {
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly resolution: string;
    readonly name?: string;
  } | null;
  readonly method: string | null;
  /** The path without query string or fragment. */
  readonly path: string | null;
  /**
   * The path as the policies matched it (the configured pathNormalization applied), null when there is no
   * request or when the path was rejected (e.g. `%00`). Decision log only.
   */
  readonly normalized_path?: string | null;
  readonly host: string | null;
  readonly cache_hit: boolean;
  readonly policy_generation: number;
  readonly duration_us: number;
  /**
   * Denies of the same (policy, reason) the deny rate limit left out since the previous record of that key, with
   * the first and last of their decision ids (deny-limiter.ts). Absent when nothing was left out.
   */
  readonly suppressed?: Suppressed;
}

export interface ShadowRecord {
  readonly policy: string;
  readonly rule: number | null;
  readonly would_allow: boolean;
}

function shadowRecord(s: ShadowResult): ShadowRecord {
  return { policy: policyName(s.policy), rule: s.ruleIndex, would_allow: s.wouldAllow };
}

/**
 * True when a decision deserves a "deny" log line even though the request went through: global dry-run turned a
 * deny into an allow, or a dry-run policy would have denied. These are exactly the lines a security team needs
 * before switching a policy to enforce, so the `deny` log mode keeps them.
 */
export function isWouldDeny(outcome: CheckOutcome): boolean {
  if (!outcome.allowed || outcome.dryRun) return true;
  const shadow = outcome.decision?.shadow;
  if (shadow === undefined) return false;
  for (const s of shadow) if (!s.wouldAllow) return true;
  return false;
}

function normalized(path: string | undefined, mode: PathNormalization): string | null {
  if (path === undefined) return null;
  const n = normalizePath(path, mode);
  return n.ok ? n.path : null;
}

/** The decision as the flat, secret-free record logged and attached to the span. */
export function toDecisionRecord(
  outcome: CheckOutcome,
  traceId: string,
  spanId: string,
  pathNormalization?: PathNormalization,
): DecisionRecord {
  const decision = outcome.decision;
  const input = outcome.input;
  const user = outcome.user;
  // Speed: no object spread here (a spread in a literal sends V8 down a slow path that builds a dictionary-mode
  // object, which JSON.stringify then walks slowly too); optional fields are added after the literal.
  let workload: Mutable<NonNullable<DecisionRecord['workload']>> | null = null;
  if (input) {
    workload = {
      namespace: input.workload.namespace,
      labels: input.workload.labels,
      resolution: input.workloadResolution,
    };
    if (input.workloadName) workload.name = input.workloadName;
  }
  const record: Mutable<DecisionRecord> = {
    decision_id: outcome.decisionId,
    trace_id: traceId,
    span_id: spanId,
    request_id: input?.requestId ?? '',
    allowed: outcome.allowed,
    status: outcome.status,
    http_status: outcome.httpStatus,
    phase: outcome.phase,
    reason_code: outcome.reasonCode,
    reason: outcome.reason,
    policy: decision?.policy ? policyName(decision.policy) : null,
    policy_action: decision?.policy?.action ?? null,
    rule: decision?.ruleIndex ?? null,
    dry_run: outcome.dryRun,
    shadow: decision && decision.shadow.length > 0 ? decision.shadow.map(shadowRecord) : NONE,
    audit: decision && decision.audit.length > 0 ? decision.audit.map(policyName) : NONE,
    // Only a verified identity: an unverified claim would mislead whoever reads the log.
    source_principal: outcome.peer?.spiffeId ?? null,
    source_ip: input?.source.address || null,
    user_issuer: user?.issuer ?? null,
    user_subject: user?.subject ?? null,
    user_groups: user?.groups ?? NONE,
    workload,
    method: input?.method ?? null,
    // `input.path` is `:path` cut at the first `?` or `#`: the query string (where tokens and API keys end up)
    // never reaches a log line.
    path: input?.path ?? null,
    host: input?.host ?? null,
    cache_hit: outcome.cacheHit,
    policy_generation: outcome.policyGeneration,
    duration_us: Math.round(outcome.durationUs),
  };
  if (pathNormalization !== undefined) record.normalized_path = normalized(input?.path, pathNormalization);
  return record;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Shared empty list (records are never mutated after they are built). */
const NONE: readonly never[] = Object.freeze([]);

/** Deny records the rate limiter held back since the last written one (carried on the next record). */
export interface Suppressed {
  readonly count: number;
  readonly first_decision_id: string;
  readonly last_decision_id: string;
}
