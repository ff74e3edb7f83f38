import {
  type Attributes,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapPropagator,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { CheckOutcome } from '../authz/outcome.js';
import type { CheckSpan, CheckTracer } from '../authz/seams.js';
import { ATTR, CHECK_SPAN_NAME, RPC_METHOD, RPC_SERVICE } from './attributes.js';
import type { Suppressed, Verdict } from './deny-limiter.js';
import { isWouldDeny, toDecisionRecord } from './record.js';
import { type CallerTrace, readCallerTrace } from './trace-headers.js';

/**
 * The {@link CheckTracer} the Check pipeline calls. It depends on `@opentelemetry/api` only: the SDK (exporter,
 * sampling, resource) is set up in `tracing.ts` and handed in as a plain API `Tracer`, so the core never loads
 * the SDK and costs nothing extra when tracing is off.
 */

/** Envoy's headers arrive as a plain object with lowercase names. */
const headerGetter: TextMapGetter<Readonly<Record<string, string>>> = {
  get: (carrier, key) => carrier[key.toLowerCase()],
  keys: (carrier) => Object.keys(carrier),
};

/** Decides whether a would-deny's span is written, and what suppressions it carries (see deny-limiter.ts). */
export type SpanGate = (outcome: CheckOutcome) => Verdict;

const ADMIT_ALL: SpanGate = () => null;

/** A span started with the Check: the trace is sampled, so it is exported whatever the decision. */
class EagerSpan implements CheckSpan {
  readonly traceId: string;
  private id: string;

  constructor(
    private readonly span: Span,
    private readonly gate: SpanGate,
  ) {
    const ctx = span.spanContext();
    this.traceId = ctx.traceId;
    this.id = ctx.spanId;
  }

  /** '' once the rate limit left the span out: a log line never points at a span that does not exist. */
  get spanId(): string {
    return this.id;
  }

  event(name: string, attributes?: Readonly<Record<string, string | number | boolean>>): void {
    this.span.addEvent(name, attributes);
  }

  end(outcome: CheckOutcome): void {
    const verdict = isWouldDeny(outcome) ? this.gate(outcome) : null;
    // Over the deny rate limit: the span is never ended, so the SDK never queues or exports it.
    if (verdict === false) {
      this.id = '';
      return;
    }
    finish(this.span, outcome, verdict);
  }
}

type PhaseEvent = [
  name: string,
  attributes: Readonly<Record<string, string | number | boolean>> | undefined,
  at: number,
];

/**
 * A Check whose trace is not sampled. Nothing touches the SDK while the Check runs: phase events are buffered
 * with their times. At the end an allow is simply forgotten (no span, no cost), while a deny or would-deny
 * becomes a real span with the original start and event times, so every denial is exported (unless the deny
 * rate limit leaves it out, see deny-limiter.ts).
 */
class DeferredSpan implements CheckSpan {
  private readonly startedAt = performance.now();
  private events: PhaseEvent[] | null = null;
  private span: Span | null = null;

  constructor(
    private readonly owner: OtelCheckTracer,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly caller: CallerTrace | null,
  ) {}

  /** The caller's trace id until a span exists (the log still joins Envoy's trace), then the span's. */
  get traceId(): string {
    return this.span === null ? (this.caller?.traceId ?? '') : this.span.spanContext().traceId;
  }

  /** '' unless the span was exported: a log line never points at a span that does not exist. */
  get spanId(): string {
    return this.span === null ? '' : this.span.spanContext().spanId;
  }

  event(name: string, attributes?: Readonly<Record<string, string | number | boolean>>): void {
    const event: PhaseEvent = [name, attributes, performance.now()];
    if (this.events === null) this.events = [event];
    else this.events.push(event);
  }

  end(outcome: CheckOutcome): void {
    if (!isWouldDeny(outcome)) return;
    const verdict = this.owner.gate(outcome);
    if (verdict === false) return;
    const span = this.owner.startSpan(this.headers, this.caller, this.startedAt);
    for (const [name, attributes, at] of this.events ?? []) span.addEvent(name, attributes, at);
    this.span = span;
    finish(span, outcome, verdict, performance.now());
  }
}

function finish(span: Span, outcome: CheckOutcome, carried: Suppressed | null, at?: number): void {
  const ctx = span.spanContext();
  const attrs = spanAttributes(outcome, ctx.traceId, ctx.spanId);
  if (carried !== null) {
    attrs[ATTR.suppressedCount] = carried.count;
    attrs[ATTR.suppressedFirst] = carried.first_decision_id;
    attrs[ATTR.suppressedLast] = carried.last_decision_id;
  }
  span.setAttributes(attrs);
  // RPC conventions: a server span's status follows its gRPC status, and the Check call itself answers OK for
  // an allow and a deny alike (the verdict is in the CheckResponse), so the status stays unset. Only a Check the
  // service could not decide (internal error, deadline: a fail-closed deny) is an error of this span.
  if (outcome.phase === 'internal') {
    span.setStatus({ code: SpanStatusCode.ERROR, message: `${outcome.status}: ${outcome.reasonCode}` });
  }
  span.end(at);
}

/**
 * The decision as span attributes. Built from the same secret-free {@link toDecisionRecord} the decision log
 * uses, so the span and the log line always say the same thing.
 */
export function spanAttributes(outcome: CheckOutcome, traceId: string, spanId: string): Attributes {
  const r = toDecisionRecord(outcome, traceId, spanId);
  const attrs: Attributes = {
    [ATTR.rpcSystem]: 'grpc',
    [ATTR.rpcService]: RPC_SERVICE,
    [ATTR.rpcMethod]: RPC_METHOD,
    [ATTR.rpcGrpcStatus]: 0,
    [ATTR.decision]: r.allowed ? 'allow' : 'deny',
    [ATTR.decisionId]: r.decision_id,
    [ATTR.status]: r.status,
    [ATTR.httpStatus]: r.http_status,
    [ATTR.phase]: r.phase,
    [ATTR.reasonCode]: r.reason_code,
    [ATTR.reason]: r.reason,
    [ATTR.dryRun]: r.dry_run,
    [ATTR.cacheHit]: r.cache_hit,
    [ATTR.generation]: r.policy_generation,
  };
  if (r.policy !== null) attrs[ATTR.policy] = r.policy;
  if (r.policy_action !== null) attrs[ATTR.policyAction] = r.policy_action;
  if (r.rule !== null) attrs[ATTR.rule] = r.rule;
  if (r.shadow.length > 0) {
    attrs[ATTR.shadow] = r.shadow.map((s) => `${s.policy}#${s.rule ?? '-'}:${s.would_allow ? 'allow' : 'deny'}`);
  }
  if (r.audit.length > 0) attrs[ATTR.audit] = [...r.audit];
  if (r.source_principal !== null) attrs[ATTR.principal] = r.source_principal;
  if (r.user_subject !== null) attrs[ATTR.userId] = r.user_subject;
  if (r.user_issuer !== null) attrs[ATTR.userIssuer] = r.user_issuer;
  if (r.user_groups.length > 0) attrs[ATTR.userGroups] = [...r.user_groups];
  if (r.workload !== null) {
    attrs[ATTR.workloadNamespace] = r.workload.namespace;
    attrs[ATTR.workload] = formatLabels(r.workload.labels);
  }
  if (r.method !== null) attrs[ATTR.method] = r.method;
  if (r.path !== null) attrs[ATTR.path] = r.path;
  if (r.host !== null) attrs[ATTR.host] = r.host;
  if (r.request_id !== '') attrs[ATTR.requestId] = [r.request_id];
  return attrs;
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  let out = '';
  for (const key of Object.keys(labels).sort()) out += `${out === '' ? '' : ','}${key}=${labels[key]}`;
  return out;
}

/**
 * A tracer that continues the caller's trace (W3C `traceparent`/`tracestate` or B3, as the propagator reads them)
 * and records one SERVER span per Check, under this export rule:
 * - every deny, dry-run would-deny and dry-run policy would-deny is exported (up to the deny rate limit);
 * - an allow is exported when the caller already sampled the trace (so a sampled trace stays whole), or when the
 *   trace falls under `allowSampleRate` (decided from the trace id, so every replica agrees for one trace; a
 *   request that arrives without a trace gets a random draw).
 * The choice for allows is made when the Check starts; the other Checks run with a {@link DeferredSpan}, which
 * costs nothing when the Check is allowed. That keeps tracing cheap at a 1% allow rate.
 */
export class OtelCheckTracer implements CheckTracer {
  constructor(
    private readonly tracer: Tracer,
    private readonly propagator: TextMapPropagator,
    private readonly allowSampleRate: number,
    private readonly random: () => number = Math.random,
    /** @internal The deny rate limit (deny-limiter.ts); admits everything by default. */
    readonly gate: SpanGate = ADMIT_ALL,
  ) {}

  start(headers: Readonly<Record<string, string>>): CheckSpan {
    // Speed: the sampling choice reads the trace headers with a hand-written parser; the full propagator (contexts,
    // validation, tracestate) only runs for Checks that get a span — ~1% of allows and every deny.
    const caller = readCallerTrace(headers);
    const sampled =
      caller !== null
        ? caller.sampled || traceIdUnderRate(caller.traceId, this.allowSampleRate)
        : this.random() < this.allowSampleRate;
    if (sampled) return new EagerSpan(this.startSpan(headers, caller), this.gate);
    return new DeferredSpan(this, headers, caller);
  }

  /**
   * @internal Starts the Check span as a child of the caller's context. Speed: when the headers carry a plain
   * parent (trace and span id, no `tracestate` to keep), the context is built from what {@link readCallerTrace}
   * already read; otherwise the full propagator reads `headers`. Both give the same parent.
   */
  startSpan(headers: Readonly<Record<string, string>>, caller: CallerTrace | null, startTime?: number): Span {
    const parent =
      caller !== null && caller.spanId !== '' && headers.tracestate === undefined
        ? trace.setSpanContext(ROOT_CONTEXT, {
            traceId: caller.traceId,
            spanId: caller.spanId,
            traceFlags: caller.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
            isRemote: true,
          })
        : this.propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    return this.tracer.startSpan(CHECK_SPAN_NAME, { kind: SpanKind.SERVER, startTime }, parent);
  }
}

/**
 * True for a fraction `rate` of trace ids. Uses the low 32 bits: W3C trace ids are random there (and the
 * `random` trace flag promises the low 56 bits are), so this is a fair, reproducible coin per trace.
 */
export function traceIdUnderRate(traceId: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  const low = Number.parseInt(traceId.slice(-8), 16);
  if (!Number.isFinite(low)) return false;
  return low / 0x1_0000_0000 < rate;
}
