import {
  type Attributes,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapPropagator,
  type Tracer,
} from '@opentelemetry/api';
import type { CheckOutcome } from '../authz/outcome.js';
import type { CheckSpan, CheckTracer } from '../authz/seams.js';
import { ATTR, CHECK_SPAN_NAME } from './attributes.js';
import { toDecisionRecord } from './record.js';

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

class OtelCheckSpan implements CheckSpan {
  readonly traceId: string;
  readonly spanId: string;

  constructor(private readonly span: Span) {
    const ctx = span.spanContext();
    this.traceId = ctx.traceId;
    this.spanId = ctx.spanId;
  }

  event(name: string, attributes?: Readonly<Record<string, string | number | boolean>>): void {
    this.span.addEvent(name, attributes);
  }

  end(outcome: CheckOutcome): void {
    this.span.setAttributes(spanAttributes(outcome, this.traceId, this.spanId));
    if (!outcome.allowed) {
      // ERROR status is what trace UIs filter on ("error=true" in Jaeger, status in Tempo): one click finds denials.
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: `${outcome.status}: ${outcome.reasonCode}` });
    }
    this.span.end();
  }
}

/**
 * The decision as span attributes. Built from the same secret-free {@link toDecisionRecord} the decision log
 * uses, so the span and the log line always say the same thing.
 */
export function spanAttributes(outcome: CheckOutcome, traceId: string, spanId: string): Attributes {
  const r = toDecisionRecord(outcome, traceId, spanId);
  const attrs: Attributes = {
    [ATTR.decisionId]: r.decision_id,
    [ATTR.allowed]: r.allowed,
    [ATTR.denied]: !r.allowed,
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
  if (r.user_subject !== null) attrs[ATTR.userSubject] = r.user_subject;
  if (r.user_issuer !== null) attrs[ATTR.userIssuer] = r.user_issuer;
  if (r.user_groups.length > 0) attrs[ATTR.userGroups] = [...r.user_groups];
  if (r.workload !== null) {
    attrs[ATTR.workloadNamespace] = r.workload.namespace;
    attrs[ATTR.workload] = formatLabels(r.workload.labels);
  }
  if (r.method !== null) attrs[ATTR.method] = r.method;
  if (r.path !== null) attrs[ATTR.path] = r.path;
  if (r.request_id !== '') attrs[ATTR.requestId] = r.request_id;
  return attrs;
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  let out = '';
  for (const key of Object.keys(labels).sort()) out += `${out === '' ? '' : ','}${key}=${labels[key]}`;
  return out;
}

/**
 * A tracer that continues the caller's trace (W3C `traceparent`/`tracestate` or B3, as the propagator reads them)
 * and records one SERVER span per Check. Which spans are exported is decided by the SDK side (`sampling.ts`).
 */
export class OtelCheckTracer implements CheckTracer {
  constructor(
    private readonly tracer: Tracer,
    private readonly propagator: TextMapPropagator,
  ) {}

  start(headers: Readonly<Record<string, string>>): CheckSpan {
    const parent = this.propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    const span = this.tracer.startSpan(CHECK_SPAN_NAME, { kind: SpanKind.SERVER }, parent);
    return new OtelCheckSpan(span);
  }
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}/;
const B3_SINGLE = /^([0-9a-f]{32}|[0-9a-f]{16})-([0-9a-f]{16})/;
const HEX_ID = /^([0-9a-f]{32}|[0-9a-f]{16})$/;
const ZERO_TRACE = /^0+$/;

/**
 * The caller's trace id from W3C or B3 headers, without the SDK: used when tracing is off so decision log lines
 * still join the trace Envoy started. A 64-bit B3 id is left-padded to 128 bits, as OpenTelemetry does.
 */
export function callerTraceId(headers: Readonly<Record<string, string>>): string {
  const tp = headers.traceparent;
  let id: string | undefined;
  if (tp !== undefined) id = TRACEPARENT.exec(tp.trim().toLowerCase())?.[1];
  if (id === undefined && headers.b3 !== undefined) id = B3_SINGLE.exec(headers.b3.trim().toLowerCase())?.[1];
  if (id === undefined && headers['x-b3-traceid'] !== undefined) {
    id = HEX_ID.exec(headers['x-b3-traceid'].trim().toLowerCase())?.[1];
  }
  if (id === undefined || ZERO_TRACE.test(id)) return '';
  return id.padStart(32, '0');
}

class CorrelationSpan implements CheckSpan {
  readonly spanId = '';
  constructor(readonly traceId: string) {}
  event(): void {}
  end(): void {}
}

/** Tracing off: no spans, but the caller's trace id is kept for the decision log. */
export const CORRELATION_TRACER: CheckTracer = {
  start: (headers) => new CorrelationSpan(callerTraceId(headers)),
};
