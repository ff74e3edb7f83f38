import type { Context } from '@opentelemetry/api';
import { TraceFlags } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR } from './attributes.js';

/**
 * Tail sampling for Check spans: every deny is exported, allows at a configured rate.
 *
 * Why a span processor and not a sampler: a head sampler decides when the span starts, before the decision is
 * known, so it cannot promise "all denies". Every Check span is therefore recorded (the provider uses an
 * always-on sampler) and this processor decides at span end, once `mesh_authz.allowed` is set:
 * - a deny, a dry-run would-deny, or a dry-run policy's would-deny → exported;
 * - an allow → exported when the caller's trace was already sampled upstream (so a sampled trace stays whole),
 *   or when the trace id falls under `allowSampleRate` (deterministic per trace id, so every mesh-authz replica
 *   makes the same choice for the same trace);
 * - any other span (not a Check span) → exported.
 */
export class DenyKeepingSpanProcessor implements SpanProcessor {
  constructor(
    private readonly next: SpanProcessor,
    private readonly allowSampleRate: number,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    if (shouldExport(span, this.allowSampleRate)) this.next.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

/** The export rule above, as a pure function of the ended span. */
export function shouldExport(span: ReadableSpan, allowSampleRate: number): boolean {
  const a = span.attributes;
  if (a[ATTR.allowed] !== true) return true;
  if (a[ATTR.dryRun] === true) return true;
  const shadow = a[ATTR.shadow];
  if (Array.isArray(shadow) && shadow.some((s) => typeof s === 'string' && s.endsWith(':deny'))) return true;
  const parent = span.parentSpanContext;
  if (parent?.isRemote && (parent.traceFlags & TraceFlags.SAMPLED) !== 0) return true;
  return traceIdUnderRate(span.spanContext().traceId, allowSampleRate);
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
