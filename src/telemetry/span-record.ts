import {
  type Attributes,
  type AttributeValue,
  type HrTime,
  type Link,
  type SpanContext,
  SpanKind,
  type SpanStatus,
  SpanStatusCode,
  TraceFlags,
} from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { hrTime, hrTimeDuration } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { CHECK_SPAN_NAME } from './attributes.js';

/**
 * The finished Check span, built in one go when the Check ends and handed straight to the span processor.
 *
 * Speed: the SDK's live `Span` validates and copies every attribute through `setAttribute`, converts each time
 * stamp and keeps a context per span; at a 25% deny mix with every deny exported that was about half of
 * tracing's CPU. A Check span is written once, at the end, from a decision record whose attribute values are
 * already typed, so this is a plain {@link ReadableSpan} (the SDK's documented contract between spans,
 * processors and exporters): the batch processor, the OTLP exporter and any test exporter take it as they take
 * the SDK's own. The limits the SDK would apply are applied here ({@link SPAN_LIMITS}).
 */

/** Bounds on what one (hostile) request can put in a span: reasons and paths quote request data. */
export const SPAN_LIMITS = { attributeValueLength: 1024, attributeCount: 64, eventCount: 16 } as const;

/** Where finished spans go: the (batch) span processor, with the resource and scope they are reported under. */
export interface SpanSink {
  readonly processor: Pick<SpanProcessor, 'onEnd'>;
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
}

/** A phase event: name, attributes, and when (a `performance.now()` time). */
export interface PhaseMark {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string | number | boolean>> | undefined;
  readonly at: number;
}

const NO_LINKS: Link[] = [];
const UNSET: SpanStatus = { code: SpanStatusCode.UNSET };

const HEX = '0123456789abcdef';

/** `bytes` random bytes as lowercase hex, never all zero (an all-zero id is invalid). Math.random, as the SDK's own id generator. */
export function randomId(bytes: number): string {
  let out = '';
  let nonZero = false;
  for (let i = 0; i < bytes * 2; i++) {
    const d = (Math.random() * 16) | 0;
    if (d !== 0) nonZero = true;
    out += HEX[d];
  }
  return nonZero ? out : `${out.slice(0, -1)}1`;
}

function limitValue(value: AttributeValue): AttributeValue {
  const max = SPAN_LIMITS.attributeValueLength;
  if (typeof value === 'string') return value.length > max ? value.slice(0, max) : value;
  if (Array.isArray(value)) {
    let long = false;
    for (const v of value) if (typeof v === 'string' && v.length > max) long = true;
    if (long)
      return value.map((v) => (typeof v === 'string' && v.length > max ? v.slice(0, max) : v)) as AttributeValue;
  }
  return value;
}

/** Truncates long string values in place and drops attributes past the count limit; returns how many were dropped. */
export function applyAttributeLimits(attrs: Attributes): number {
  let kept = 0;
  let dropped = 0;
  for (const key in attrs) {
    const value = attrs[key];
    if (value === undefined || value === null || kept >= SPAN_LIMITS.attributeCount) {
      if (value !== undefined && value !== null) dropped++;
      delete attrs[key];
      continue;
    }
    kept++;
    attrs[key] = limitValue(value);
  }
  return dropped;
}

export class CheckSpanRecord implements ReadableSpan {
  readonly name = CHECK_SPAN_NAME;
  readonly kind = SpanKind.SERVER;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly duration: HrTime;
  readonly ended = true;
  readonly links = NO_LINKS;
  readonly events: TimedEvent[];
  readonly droppedLinksCount = 0;
  readonly droppedEventsCount: number;
  readonly droppedAttributesCount: number;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  private readonly context: SpanContext;

  constructor(
    sink: SpanSink,
    context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    /** `performance.now()` times of the start and the end. */
    startedAt: number,
    endedAt: number,
    marks: readonly PhaseMark[],
    readonly attributes: Attributes,
    readonly status: SpanStatus = UNSET,
  ) {
    this.context = context;
    this.resource = sink.resource;
    this.instrumentationScope = sink.scope;
    // As the SDK: performance times, corrected by the drift between the monotonic clock and the wall clock now.
    const offset = Date.now() - (performance.timeOrigin + performance.now());
    this.startTime = hrTime(startedAt + offset);
    this.endTime = hrTime(Math.max(endedAt, startedAt) + offset);
    this.duration = hrTimeDuration(this.startTime, this.endTime);
    // As the SDK: past the event limit, the oldest events go.
    const first = Math.max(0, marks.length - SPAN_LIMITS.eventCount);
    this.droppedEventsCount = first;
    this.events = [];
    for (let i = first; i < marks.length; i++) {
      const m = marks[i]!;
      const attributes: Attributes = m.attributes === undefined ? {} : { ...m.attributes };
      const droppedAttributesCount = m.attributes === undefined ? 0 : applyAttributeLimits(attributes);
      this.events.push({ name: m.name, attributes, time: hrTime(m.at + offset), droppedAttributesCount });
    }
    this.droppedAttributesCount = applyAttributeLimits(attributes);
  }

  spanContext(): SpanContext {
    return this.context;
  }
}

/** The context of a new span: in the parent's trace (keeping its `tracestate`), or a new trace. Always sampled. */
export function childContext(parent: SpanContext | undefined, traceId?: string): SpanContext {
  return {
    traceId: parent?.traceId ?? traceId ?? randomId(16),
    spanId: randomId(8),
    traceFlags: TraceFlags.SAMPLED,
    ...(parent?.traceState === undefined ? {} : { traceState: parent.traceState }),
  };
}
