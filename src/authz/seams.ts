import type { IdentityVerifier } from '../identity/types.js';
import type { CompiledPolicySet, Decision, RequestAttributes, WorkloadRef } from '../policy/types.js';
import type { CheckOutcome } from './outcome.js';

/**
 * The points where the Check pipeline calls out to optional parts (cache, tracing, logging, metrics, discovery).
 * Each has a no-op default so the pipeline runs without them.
 */

/** A decision and whether it came from the cache. */
export interface CachedDecision {
  readonly decision: Decision;
  readonly hit: boolean;
}

/**
 * A decision cache, as one call: the cached decision for this request, or `set.evaluate`'s, remembered. The
 * implementation builds keys from `set.attributesFor(workload)`; the same request object is keyed and evaluated, so
 * the key can never describe another request than the one decided.
 */
export interface DecisionCache {
  decide(set: CompiledPolicySet, workload: WorkloadRef, request: RequestAttributes): CachedDecision;
}

/** The span of one Check. */
export interface CheckSpan {
  /** '' when tracing is off. */
  readonly traceId: string;
  readonly spanId: string;
  /** Marks a phase boundary (`identity.start`, `identity.end`, `decision.end`…) with optional attributes. */
  event(name: string, attributes?: Readonly<Record<string, string | number | boolean>>): void;
  end(outcome: CheckOutcome): void;
}

export interface CheckTracer {
  /** Starts the Check span, continuing the trace the request headers carry (W3C, B3). */
  start(headers: Readonly<Record<string, string>>): CheckSpan;
}

/** Told of every decided Check, after the response is built. Must not block. */
export interface DecisionObserver {
  onDecision(outcome: CheckOutcome, span: CheckSpan): void;
}

export const NOOP_SPAN: CheckSpan = {
  traceId: '',
  spanId: '',
  event() {},
  end() {},
};

export const NOOP_TRACER: CheckTracer = { start: () => NOOP_SPAN };

/* The sources of policies and identities: `sources/`' PolicyStore and identity verifier satisfy these; tests use
 * simple real stand-ins. */

/** Where the current compiled policy set comes from. */
export interface PolicySource {
  /** The set in force, or null until one has loaded (every check is then denied UNAVAILABLE). */
  current(): CompiledPolicySet | null;
  /** Loads the first set and starts watching for changes. A failed first load leaves `current()` null. */
  start(): Promise<void>;
  close(): void | Promise<void>;
}

/** Verifies the credentials of a request; closed on shutdown (JWKS refreshers, bundle watchers). */
export interface IdentitySource extends IdentityVerifier {
  close(): void | Promise<void>;
}

/** A fixed policy set (or none), for the offline `check` and for tests. */
export function staticPolicySource(set: CompiledPolicySet | null): PolicySource {
  return {
    current: () => set,
    start: async () => {},
    close: () => {},
  };
}

/** Accepts every request with no verified identity: for setups whose policies read no identity. */
export const ANONYMOUS_IDENTITY: IdentitySource = {
  verify: () => ({ ok: true, peer: null, user: null }),
  close: () => {},
};
