import { type IdentityInput, type IdentityOutcome, type IdentityVerifier, isPromise } from '../identity/types.js';
import type { CompiledPolicySet, Decision, EndUser, PeerIdentity, RequestAttributes } from '../policy/types.js';
import { type CheckInput, DEFAULT_INPUT_LIMITS, type InputLimits, InvalidCheckRequest, toCheckInput } from './input.js';
import type { CheckOutcome, CheckPhase, CheckStatus } from './outcome.js';
import type { ReasonCode } from './reasons.js';
import { labelsUnknown, unresolvedReason } from './resolve.js';
import { type CheckSpan, type CheckTracer, type DecisionCache, type DecisionObserver, NOOP_TRACER } from './seams.js';
import type { MalformedRequest, WireCheckRequest } from './wire-types.js';
import { EMPTY_REGISTRY, type WorkloadRegistry } from './workloads.js';

export interface PipelineOptions {
  /** The current policy set, or null until one has loaded (every check is then denied UNAVAILABLE). */
  readonly policies: () => CompiledPolicySet | null;
  readonly identity: IdentityVerifier;
  /** `dry-run`: decide and report, but allow. */
  readonly mode: 'enforce' | 'dry-run';
  readonly cache?: DecisionCache | null;
  readonly tracer?: CheckTracer;
  readonly observers?: readonly DecisionObserver[];
  readonly limits?: InputLimits;
  /**
   * Where destination workloads are looked up when Envoy sends no labels (Istio `CUSTOM`): the config file's
   * `policy.workloads`, or Kubernetes Pods. Default: none (only what Envoy sends).
   */
  readonly registry?: WorkloadRegistry;
  /** `remote.ip` comes from X-Forwarded-For when this many proxies in front are trusted (Istio numTrustedProxies). */
  readonly trustedProxies?: number;
  /** Internal deadline for one Check, in ms, when the caller sent none. */
  readonly defaultTimeoutMs?: number;
  /** The clock credentials are judged by (ms since epoch): the server's own, or `check --at`. */
  readonly now?: () => number;
}

let sequence = 0;
const idPrefix = `${Date.now().toString(36)}${process.pid.toString(36)}`;

/** Base-36 digits of Number.MAX_SAFE_INTEGER: the sequence is padded to this, so one process's ids share a length. */
const SEQUENCE_DIGITS = Number.MAX_SAFE_INTEGER.toString(36).length;

/**
 * A cheap, process-unique decision id (no randomness needed: it correlates, it does not authenticate). Every id
 * of one process has the same length, which lets the server's ResponseEncoder patch ids into remembered responses.
 */
export function nextDecisionId(): string {
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return `${idPrefix}-${sequence.toString(36).padStart(SEQUENCE_DIGITS, '0')}`;
}

class DeadlineExceeded extends Error {}

/** The reason code of a deny because the destination workload's labels (or namespace) are unknown. */
export const WORKLOAD_UNRESOLVED: ReasonCode = 'workload_unresolved';

/**
 * The Check pipeline: input → identity → decision → response. The phase that fails decides the answer:
 * input → PERMISSION_DENIED (malformed), identity → UNAUTHENTICATED, policy → PERMISSION_DENIED,
 * internal error or deadline → UNAVAILABLE. Fail closed: no path out of here allows by accident.
 */
export class CheckPipeline {
  private readonly tracer: CheckTracer;
  private readonly observers: readonly DecisionObserver[];
  private readonly limits: InputLimits;
  private readonly registry: WorkloadRegistry;

  constructor(private readonly options: PipelineOptions) {
    this.tracer = options.tracer ?? NOOP_TRACER;
    this.observers = options.observers ?? [];
    this.limits = options.limits ?? DEFAULT_INPUT_LIMITS;
    this.registry = options.registry ?? EMPTY_REGISTRY;
  }

  /**
   * Decides one request. Never throws or rejects. `deadline` is an absolute time in ms (from grpc-timeout), if any.
   * Synchronous when nothing needs waiting for (identities already verified and cached: the common case), so the
   * answer goes out in the same tick; a Promise only when a first-sight credential has to be fetched or verified.
   */
  check(request: WireCheckRequest | MalformedRequest, deadline?: number): CheckOutcome | Promise<CheckOutcome> {
    const started = process.hrtime.bigint();
    const decisionId = nextDecisionId();
    // Phase 1: input. `toCheckInput` is the one reader of the wire message; everything after it, the tracer
    // included, reads the CheckInput (so trace headers are found whether Envoy sent `headers` or `header_map`).
    const input = readInput(request, this.limits, this.options.now?.() ?? Date.now(), this.registry);
    const span = this.tracer.start('rejected' in input ? NO_HEADERS : input.headers);
    let pending: CheckOutcome | Promise<CheckOutcome>;
    try {
      if ('error' in input) throw input.error;
      pending =
        'rejected' in input
          ? makeOutcome(decisionId, started, {
              status: 'PERMISSION_DENIED',
              phase: 'input',
              reasonCode: 'invalid_request',
              reason: input.rejected,
            })
          : this.decide(input, decisionId, span, started, deadline);
    } catch (err) {
      pending = failedOutcome(decisionId, started, err);
    }
    if (isPromise(pending)) {
      return pending.then(
        (outcome) => this.finish(outcome, span),
        (err: unknown) => this.finish(failedOutcome(decisionId, started, err), span),
      );
    }
    return this.finish(pending, span);
  }

  private finish(outcome: CheckOutcome, span: CheckSpan): CheckOutcome {
    try {
      span.end(outcome);
    } catch {
      // Tracing must never change or delay the decision, nor keep the observers (log, metrics) from seeing it.
    }
    for (const observer of this.observers) {
      try {
        observer.onDecision(outcome, span);
      } catch {
        // An observer must never change or delay the decision.
      }
    }
    return outcome;
  }

  private decide(
    input: CheckInput,
    decisionId: string,
    span: CheckSpan,
    started: bigint,
    deadline: number | undefined,
  ): CheckOutcome | Promise<CheckOutcome> {
    const policies = this.options.policies();
    if (policies === null) {
      return makeOutcome(decisionId, started, {
        status: 'UNAVAILABLE',
        phase: 'internal',
        reasonCode: 'not_ready',
        reason: 'no policy set has loaded yet',
        input,
      });
    }

    // Phase 2: identity (synchronous when the credentials are cached).
    span.event('identity.start');
    const identityInput: IdentityInput = {
      certificate: input.source.certificate,
      principal: input.source.principal,
      headers: input.headers,
      filterMetadata: input.filterMetadata,
      now: input.time,
    };
    const pending = this.options.identity.verify(identityInput);
    if (isPromise(pending)) {
      return withDeadline(pending, this.budget(deadline)).then((identity) =>
        this.decideWith(identity, input, policies, decisionId, span, started),
      );
    }
    return this.decideWith(pending, input, policies, decisionId, span, started);
  }

  /** Phase 3: the decision, once the identities are known. */
  private decideWith(
    identity: IdentityOutcome,
    input: CheckInput,
    policies: CompiledPolicySet,
    decisionId: string,
    span: CheckSpan,
    started: bigint,
  ): CheckOutcome {
    // Phase events carry no attributes: who the peer and user are, the decision code and the cache hit are span
    // attributes already (set once at the end), and every attribute is paid for again in each exported span.
    span.event('identity.end');
    if (!identity.ok) {
      return makeOutcome(decisionId, started, {
        status: 'UNAUTHENTICATED',
        phase: 'identity',
        reasonCode: identity.error.code,
        reason: identity.error.safeMessage,
        input,
        wwwAuthenticate: identity.error.wwwAuthenticate,
        generation: policies.generation,
      });
    }

    // Fail closed on an unknown destination: never evaluate a guessed (empty) label set, which would silently skip
    // every label-selected policy (an ALLOW that should default-deny, a DENY that should match).
    // Resolved labels are never questioned: only an unknown workload builds the view (no allocation per request).
    const unresolved = labelsUnknown(input.workloadResolution)
      ? unresolvedReason(policies, { workload: input.workload, resolution: input.workloadResolution })
      : null;
    if (unresolved !== null) {
      const dryRun = this.options.mode === 'dry-run';
      return makeOutcome(decisionId, started, {
        status: dryRun ? 'OK' : 'PERMISSION_DENIED',
        phase: 'decision',
        reasonCode: WORKLOAD_UNRESOLVED,
        reason: dryRun ? `dry-run (would deny): ${unresolved}` : unresolved,
        input,
        dryRun,
        peer: identity.peer,
        user: identity.user,
        generation: policies.generation,
      });
    }

    const attrs = toRequestAttributes(input, identity.peer, identity.user, this.options.trustedProxies ?? 0);
    const cache = this.options.cache;
    let decision: Decision;
    let cacheHit = false;
    if (cache) ({ decision, hit: cacheHit } = cache.decide(policies, input.workload, attrs));
    else decision = policies.evaluate(input.workload, attrs);
    span.event('decision.end');
    const dryRun = this.options.mode === 'dry-run' && !decision.allowed;
    return makeOutcome(decisionId, started, {
      status: decision.allowed || dryRun ? 'OK' : 'PERMISSION_DENIED',
      phase: 'decision',
      reasonCode: decision.code,
      reason: dryRun ? `dry-run (would deny): ${decision.reason}` : decision.reason,
      input,
      decision,
      dryRun,
      peer: identity.peer,
      user: identity.user,
      cacheHit,
      generation: policies.generation,
    });
  }

  private budget(deadline: number | undefined): number {
    const fallback = this.options.defaultTimeoutMs ?? 1000;
    if (deadline === undefined || !Number.isFinite(deadline)) return fallback;
    // A caller may send up to 99999999H; a Node timer past 2^31-1 ms fires after 1 ms instead (an instant deny).
    return Math.min(MAX_TIMER_MS, Math.max(0, deadline - Date.now()));
  }
}

/** The longest delay a Node timer holds (about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze(Object.create(null));

/** A request the input phase refused, with the reason the deny carries. */
interface InputRejection {
  readonly rejected: string;
  /** Set when reading failed for an internal reason (a bug, not the caller's input): answered UNAVAILABLE. */
  readonly error?: unknown;
}

/** The input phase: the decoded message (or the codec's failure) → a {@link CheckInput} or a rejection. */
function readInput(
  request: WireCheckRequest | MalformedRequest,
  limits: InputLimits,
  now: number,
  registry: WorkloadRegistry,
): CheckInput | InputRejection {
  if ('malformed' in request) return { rejected: `malformed CheckRequest: ${request.malformed}` };
  try {
    return toCheckInput(request, limits, now, registry);
  } catch (err) {
    if (!(err instanceof InvalidCheckRequest))
      return { rejected: 'internal error while reading the request', error: err };
    return { rejected: `invalid CheckRequest: ${err.message}` };
  }
}

/** An internal error or a missed deadline: UNAVAILABLE, never an allow. */
function failedOutcome(decisionId: string, started: bigint, err: unknown): CheckOutcome {
  const deadlineHit = err instanceof DeadlineExceeded;
  return makeOutcome(decisionId, started, {
    status: 'UNAVAILABLE',
    phase: 'internal',
    reasonCode: deadlineHit ? 'deadline' : 'internal',
    reason: deadlineHit ? 'the check did not finish before its deadline' : 'internal error while checking',
    error: err,
  });
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineExceeded()), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** The policy engine's view of a request: wire-free, with verified identities only. */
export function toRequestAttributes(
  input: CheckInput,
  peer: PeerIdentity | null,
  user: EndUser | null,
  trustedProxies: number,
): RequestAttributes {
  return {
    method: input.method,
    path: input.rawPath,
    host: input.host,
    headers: input.headers,
    sourceIp: input.source.address,
    remoteIp: remoteIp(input, trustedProxies),
    destinationIp: input.destination.address,
    destinationPort: input.destination.port,
    sni: input.sni,
    peer,
    user,
    filterMetadata: input.filterMetadata,
  };
}

/**
 * The original client IP. With no trusted proxies (the default) it is the direct peer: X-Forwarded-For is
 * client-controlled and must not be believed. With N trusted proxies, the Nth address from the right.
 */
function remoteIp(input: CheckInput, trustedProxies: number): string {
  if (trustedProxies <= 0) return input.source.address;
  const xff = input.headers['x-forwarded-for'];
  if (!xff) return input.source.address;
  const hops = xff.split(',');
  const pick = hops[hops.length - trustedProxies];
  return pick === undefined ? input.source.address : pick.trim();
}

interface OutcomeParts {
  status: CheckStatus;
  phase: CheckPhase;
  reasonCode: ReasonCode;
  reason: string;
  input?: CheckInput;
  decision?: Decision;
  dryRun?: boolean;
  peer?: PeerIdentity | null;
  user?: EndUser | null;
  cacheHit?: boolean;
  generation?: number;
  wwwAuthenticate?: string | null;
  error?: unknown;
}

const HTTP_STATUS: Readonly<Record<CheckStatus, number>> = {
  OK: 200,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  UNAVAILABLE: 403,
};

function makeOutcome(decisionId: string, started: bigint, p: OutcomeParts): CheckOutcome {
  return {
    decisionId,
    allowed: p.status === 'OK',
    status: p.status,
    httpStatus: HTTP_STATUS[p.status],
    phase: p.phase,
    reasonCode: p.reasonCode,
    reason: p.reason,
    decision: p.decision ?? null,
    dryRun: p.dryRun ?? false,
    input: p.input ?? null,
    peer: p.peer ?? null,
    user: p.user ?? null,
    cacheHit: p.cacheHit ?? false,
    policyGeneration: p.generation ?? 0,
    durationUs: Number(process.hrtime.bigint() - started) / 1000,
    wwwAuthenticate: p.wwwAuthenticate ?? null,
  };
}
