import type { CheckOutcome } from '../authz/outcome.js';
import { type PolicyRef, policyName } from '../policy/types.js';
import type { Suppressed } from './record.js';

/**
 * Rate limit on deny telemetry, per (deciding policy, reason code): a flood of denies (an attack, a broken
 * client in a retry loop) must not become a flood of spans and decision log lines. Each key has a token bucket
 * (`perSecond` refill, `burst` capacity); a deny over the limit gets no span and no log line, and is counted.
 *
 * Every deny stays findable by its decision id: the next record of the same key that is written carries
 * `suppressed` = how many were left out and the first and last suppressed decision ids. Decision ids of one
 * process have a fixed length and grow in order, so "is my id between first and last of a record with my
 * policy and reason" is a string comparison (docs/sre-guide.md shows the jq line). Suppressions that no later
 * record picks up (the flood stopped) are reported by {@link DenyLimiter.sweep} as a service log line with the
 * same fields, at most {@link SWEEP_MS} after. Metrics count every deny whatever the limiter does.
 *
 * The tracer and the decision log ask about the same outcome one after the other (span first, then observers);
 * the verdict for the last outcome is remembered, so both agree: a deny has a span and a log line, or neither.
 */

export interface DenyLimit {
  /** Records per second per key; 0 turns the limiter off. */
  readonly perSecond: number;
  readonly burst: number;
}

export type { Suppressed } from './record.js';

export interface SuppressedReport extends Suppressed {
  readonly policy: string | null;
  readonly reason_code: string;
}

/** Admitted with nothing to carry. */
export const ADMIT = null;
/** Over the limit: no span, no log line. */
export const SUPPRESS = false;
/** Admitted: null, or the suppressions to carry on this record; or SUPPRESS. */
export type Verdict = Suppressed | null | false;

/** Unreported suppressions older than this are logged by sweep(). */
export const SWEEP_MS = 5_000;
/** Keys are bounded by the loaded policies × reason codes; this caps the map if reason codes ever were not. */
const MAX_KEYS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
  count: number;
  first: string;
  last: string;
  since: number;
}

export class DenyLimiter {
  private readonly byPolicy = new WeakMap<PolicyRef, Map<string, Bucket>>();
  private readonly noPolicy = new Map<string, Bucket>();
  /** Buckets holding unreported suppressions, for sweep(). */
  private readonly owed = new Map<Bucket, { policy: string | null; reason: string }>();
  private keys = 0;
  private lastOutcome: CheckOutcome | null = null;
  private lastVerdict: Verdict = ADMIT;

  constructor(
    private readonly limit: DenyLimit,
    /** Told of each deny left out (the suppressed counter). */
    private readonly onSuppressed: () => void = () => {},
    private readonly now: () => number = () => performance.now(),
  ) {}

  get enabled(): boolean {
    return this.limit.perSecond > 0;
  }

  /** The verdict for a would-deny outcome (callers check {@link isWouldDeny} first). Same outcome, same answer. */
  verdict(outcome: CheckOutcome): Verdict {
    if (outcome === this.lastOutcome) return this.lastVerdict;
    this.lastOutcome = outcome;
    this.lastVerdict = this.enabled ? this.decide(outcome) : ADMIT;
    return this.lastVerdict;
  }

  private decide(outcome: CheckOutcome): Verdict {
    const policy = outcome.decision?.policy ?? null;
    const bucket = this.bucket(policy, outcome.reasonCode);
    const now = this.now();
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      if (bucket.count === 0) {
        bucket.first = outcome.decisionId;
        bucket.since = now;
        this.owed.set(bucket, { policy: policy === null ? null : policyName(policy), reason: outcome.reasonCode });
      }
      bucket.count++;
      bucket.last = outcome.decisionId;
      this.onSuppressed();
      return SUPPRESS;
    }
    bucket.tokens -= 1;
    if (bucket.count === 0) return ADMIT;
    const carried: Suppressed = { count: bucket.count, first_decision_id: bucket.first, last_decision_id: bucket.last };
    bucket.count = 0;
    this.owed.delete(bucket);
    return carried;
  }

  private bucket(policy: PolicyRef | null, reason: string): Bucket {
    let byReason = policy === null ? this.noPolicy : this.byPolicy.get(policy);
    if (byReason === undefined) {
      byReason = new Map();
      if (policy !== null) this.byPolicy.set(policy, byReason);
    }
    let bucket = byReason.get(reason);
    if (bucket === undefined) {
      if (this.keys >= MAX_KEYS) {
        // Start over rather than grow: the worst case is a few extra records, never unbounded memory.
        this.noPolicy.clear();
        this.keys = 0;
      }
      bucket = { tokens: this.limit.burst, at: this.now(), count: 0, first: '', last: '', since: 0 };
      byReason.set(reason, bucket);
      this.keys++;
    }
    return bucket;
  }

  /** Suppressions no record has carried for {@link SWEEP_MS}: returned once, then forgotten. */
  sweep(force = false): SuppressedReport[] {
    const now = this.now();
    const out: SuppressedReport[] = [];
    for (const [bucket, key] of this.owed) {
      if (!force && now - bucket.since < SWEEP_MS) continue;
      out.push({
        policy: key.policy,
        reason_code: key.reason,
        count: bucket.count,
        first_decision_id: bucket.first,
        last_decision_id: bucket.last,
      });
      bucket.count = 0;
      this.owed.delete(bucket);
    }
    return out;
  }
}
