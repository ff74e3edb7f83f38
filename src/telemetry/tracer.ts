import {
  type Attributes,
  isSpanContextValid,
  ROOT_CONTEXT,
  type SpanContext,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapPropagator,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import type { CheckOutcome } from '../authz/outcome.js';
import type { CheckSpan, CheckTracer } from '../authz/seams.js';
import { ATTR, type AttributeName, RPC_METHOD, RPC_SERVICE } from './attributes.js';
import type { Suppressed, Verdict } from './deny-limiter.js';
import { isWouldDeny, toDecisionRecord } from './record.js';
import { CheckSpanRecord, childContext, type PhaseMark, randomId, type SpanSink } from './span-record.js';
import { type CallerTrace, readCallerTrace } from './trace-headers.js';

/**
 * The {@link CheckTracer} the Check pipeline calls. It never touches the SDK while a Check runs: the sampling
 * choice is made from the trace headers before anything is built, phase events are remembered as (name, time),
 * and only a Check whose span is exported gets its attributes built, once, at the end (span-record.ts).
 */

/** Envoy's headers arrive as a plain object with lowercase names. */
const headerGetter: TextMapGetter<Readonly<Record<string, string>>> = {
  get: (carrier, key) => carrier[key.toLowerCase()],
  keys: (carrier) => Object.keys(carrier),
};

/** Decides whether a would-deny's span is written, and what suppressions it carries (see deny-limiter.ts). */
export type SpanGate = (outcome: CheckOutcome) => Verdict;

const ADMIT_ALL: SpanGate = () => null;

/** Phase events a Check keeps without allocating (the pipeline marks three); more go to an array. */
const EVENT_SLOTS = 3;

/**
 * One Check's span while it runs. `sampled` (the caller sampled the trace, or it fell under the allow rate):
 * exported whatever the decision. Otherwise exported only for a deny or would-deny (within the deny rate limit),
 * so every denial is traced; an unsampled allow ends with nothing built and nothing exported.
 *
 * Allocation: the not-sampled path (≈99% of allows) allocates this object only, as the correlation span does
 * with tracing off: phase events are kept in fixed slots (name, offset from the start in 0.1 µs units, a small
 * integer), not in arrays, and the caller's trace was read anyway.
 */
class RecordedSpan implements CheckSpan {
  private readonly startedAt = performance.now();
  private count = 0;
  private name0 = '';
  private name1 = '';
  private name2 = '';
  private at0 = 0;
  private at1 = 0;
  private at2 = 0;
  /** Events past the slots, or carrying attributes (so their order is kept, all later ones go here too). */
  private more: PhaseMark[] | null = null;
  private exported: SpanContext | null = null;
  private suppressed = false;

  constructor(
    private readonly owner: OtelCheckTracer,
    private readonly headers: Readonly<Record<string, string>>,
    private readonly caller: CallerTrace | null,
    private readonly sampled: boolean,
    /** A sampled root span's trace id, known from the start (the caller's id otherwise). */
    private readonly rootTraceId: string,
  ) {}

  /** The exported span's trace id; before that (or without one) the sampled root's or the caller's. */
  get traceId(): string {
    if (this.exported !== null) return this.exported.traceId;
    return this.rootTraceId !== '' ? this.rootTraceId : (this.caller?.traceId ?? '');
  }

  /** '' unless the span was exported: a log line never points at a span that does not exist. */
  get spanId(): string {
    return this.exported === null ? '' : this.exported.spanId;
  }

  event(name: string, attributes?: Readonly<Record<string, string | number | boolean>>): void {
    const now = performance.now();
    if (this.more !== null || attributes !== undefined || this.count >= EVENT_SLOTS) {
      const mark: PhaseMark = { name, attributes, at: now };
      if (this.more === null) this.more = [mark];
      else this.more.push(mark);
      return;
    }
    const offset = Math.round((now - this.startedAt) * 10_000);
    if (this.count === 0) {
      this.name0 = name;
      this.at0 = offset;
    } else if (this.count === 1) {
      this.name1 = name;
      this.at1 = offset;
    } else {
      this.name2 = name;
      this.at2 = offset;
    }
    this.count++;
  }

  end(outcome: CheckOutcome): void {
    if (this.exported !== null || this.suppressed) return;
    const wouldDeny = isWouldDeny(outcome);
    if (!this.sampled && !wouldDeny) return;
    const verdict = wouldDeny ? this.owner.gate(outcome) : null;
    // Over the deny rate limit: nothing is built or queued.
    if (verdict === false) {
      this.suppressed = true;
      return;
    }
    const endedAt = performance.now();
    const parent = this.owner.parentOf(this.headers, this.caller);
    const context = childContext(parent, this.rootTraceId === '' ? undefined : this.rootTraceId);
    const attrs = spanAttributes(outcome, context.traceId, context.spanId);
    addSuppressed(attrs, verdict);
    // RPC conventions: a server span's status follows its gRPC status, and the Check call itself answers OK for
    // an allow and a deny alike (the verdict is in the CheckResponse), so the status stays unset. Only a Check the
    // service could not decide (internal error, deadline: a fail-closed deny) is an error of this span.
    const status =
      outcome.phase === 'internal'
        ? { code: SpanStatusCode.ERROR, message: `${outcome.status}: ${outcome.reasonCode}` }
        : undefined;
    const sink = this.owner.sink;
    sink.processor.onEnd(
      new CheckSpanRecord(sink, context, parent, this.startedAt, endedAt, this.marks(), attrs, status),
    );
    this.exported = context;
  }

  private marks(): PhaseMark[] {
    const out: PhaseMark[] = [];
    const at = (offset: number) => this.startedAt + offset / 10_000;
    if (this.count > 0) out.push({ name: this.name0, attributes: undefined, at: at(this.at0) });
    if (this.count > 1) out.push({ name: this.name1, attributes: undefined, at: at(this.at1) });
    if (this.count > 2) out.push({ name: this.name2, attributes: undefined, at: at(this.at2) });
    if (this.more !== null) out.push(...this.more);
    return out;
  }
}

function addSuppressed(attrs: Attributes, carried: Suppressed | null): void {
  if (carried === null) return;
  attrs[ATTR.suppressedCount] = carried.count;
  attrs[ATTR.suppressedFirst] = carried.first_decision_id;
  attrs[ATTR.suppressedLast] = carried.last_decision_id;
}

/**
 * The decision as span attributes. Built from the same secret-free {@link toDecisionRecord} the decision log
 * uses, so the span and the log line always say the same thing.
 */
export function spanAttributes(outcome: CheckOutcome, traceId: string, spanId: string): Attributes {
  const r = toDecisionRecord(outcome, traceId, spanId);
  // Speed: literal keys (not `[ATTR.x]`), so V8 clones one boilerplate object instead of adding 14 computed
  // properties one by one; `satisfies` still checks each key is an ATTR name.
  const fixed = {
    'rpc.system': 'grpc',
    'rpc.service': RPC_SERVICE,
    'rpc.method': RPC_METHOD,
    'rpc.grpc.status_code': 0,
    'mesh_authz.decision': r.allowed ? 'allow' : 'deny',
    'mesh_authz.decision_id': r.decision_id,
    'mesh_authz.status': r.status,
    'mesh_authz.response.http_status': r.http_status,
    'mesh_authz.phase': r.phase,
    'mesh_authz.reason_code': r.reason_code,
    'mesh_authz.reason': r.reason,
    'mesh_authz.dry_run': r.dry_run,
    'mesh_authz.cache_hit': r.cache_hit,
    'mesh_authz.policy_generation': r.policy_generation,
  } satisfies Partial<Record<AttributeName, string | number | boolean>>;
  const attrs: Attributes = fixed;
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
    attrs[ATTR.workloadResolution] = r.workload.resolution;
    if (r.workload.name) attrs[ATTR.workloadName] = r.workload.name;
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
 * The choice for allows is made when the Check starts, before anything is built; a Check that is not sampled
 * costs one small object and is forgotten when allowed. That keeps tracing cheap at a 1% allow rate.
 */
export class OtelCheckTracer implements CheckTracer {
  constructor(
    /** @internal Where finished spans go (the batch span processor), with their resource and scope. */
    readonly sink: SpanSink,
    private readonly propagator: TextMapPropagator,
    private readonly allowSampleRate: number,
    private readonly random: () => number = Math.random,
    /** @internal The deny rate limit (deny-limiter.ts); admits everything by default. */
    readonly gate: SpanGate = ADMIT_ALL,
  ) {}

  start(headers: Readonly<Record<string, string>>): CheckSpan {
    // Speed: the sampling choice reads the trace headers with a hand-written parser, before anything is built;
    // the full propagator (contexts, validation, tracestate) only runs for Checks whose span is exported.
    const caller = readCallerTrace(headers);
    const sampled =
      caller !== null
        ? caller.sampled || traceIdUnderRate(caller.traceId, this.allowSampleRate)
        : this.random() < this.allowSampleRate;
    return new RecordedSpan(this, headers, caller, sampled, sampled && caller === null ? randomId(16) : '');
  }

  /**
   * @internal The caller's span context, the parent of the Check span (undefined: the span starts a trace).
   * Speed: when the headers carry a plain parent (trace and span id, no `tracestate` to keep), it is built from
   * what {@link readCallerTrace} already read, and headers with no trace header at all have none; otherwise the
   * full propagator reads `headers`. All three give the parent the propagator would.
   */
  parentOf(headers: Readonly<Record<string, string>>, caller: CallerTrace | null): SpanContext | undefined {
    if (caller !== null && caller.spanId !== '' && headers.tracestate === undefined) {
      return {
        traceId: caller.traceId,
        spanId: caller.spanId,
        traceFlags: caller.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
        isRemote: true,
      };
    }
    // The propagators read only these (tracestate is ignored without a traceparent).
    if (headers.traceparent === undefined && headers.b3 === undefined && headers['x-b3-traceid'] === undefined) {
      return undefined;
    }
    const parent = trace.getSpanContext(this.propagator.extract(ROOT_CONTEXT, headers, headerGetter));
    return parent !== undefined && isSpanContextValid(parent) ? parent : undefined;
  }
}

/**
 * True for a fraction `rate` of trace ids. Uses the low 32 bits: W3C trace ids are random there (and the
 * `random` trace flag promises the low 56 bits are), so this is a fair, reproducible coin per trace.
 */
export function traceIdUnderRate(traceId: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  // Speed: read the last 8 hex digits by character code (no substring, no parseInt) on every sampled-or-not choice.
  const n = traceId.length;
  if (n < 8) return false;
  let low = 0;
  for (let i = n - 8; i < n; i++) {
    const c = traceId.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d < 0) return false;
    low = low * 16 + d;
  }
  return low / 0x1_0000_0000 < rate;
}
