import type { CheckSpan, CheckTracer } from '../authz/seams.js';

/**
 * Reading the caller's trace context from Envoy's request headers without the OpenTelemetry SDK: for the
 * sampling choice on every Check (cheap), and for decision log correlation when tracing is off. Precedence
 * matches the propagator in `tracing.ts`: W3C `traceparent` first, then B3 single (`b3`), then B3 multi
 * (`x-b3-*`).
 */

export interface CallerTrace {
  readonly traceId: string;
  /** The caller's span (the parent of ours): 16 lowercase hex digits, or '' when the headers carry none. */
  readonly spanId: string;
  /** The caller recorded this trace (W3C sampled flag, B3 `1`/`d`, `x-b3-sampled: 1`, `x-b3-flags: 1`). */
  readonly sampled: boolean;
}

/**
 * Speed: this runs on every Check, so it checks character codes instead of running regexes (a case-insensitive
 * regex with captures cost more than the rest of the tracer). Ids must be lowercase hex, as W3C and B3 require
 * and as the OpenTelemetry propagators accept.
 */
function isLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function isZero(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) !== 48) return false;
  return true;
}

/** `version-traceid-parentid-flags`: 2-32-16-2 hex digits, version not `ff`, ids not all zero. */
function fromTraceparent(raw: string): CallerTrace | null {
  const tp = raw.charCodeAt(0) === 32 ? raw.slice(1) : raw;
  if (tp.length < 55 || tp[2] !== '-' || tp[35] !== '-' || tp[52] !== '-') return null;
  // Version 00 is exactly 55 characters; later versions may append fields (as the W3C propagator reads it).
  if (tp.length > 55 && (tp[55] !== '-' || tp.startsWith('00'))) return null;
  if (!isLowerHex(tp, 0, 2) || !isLowerHex(tp, 3, 35) || !isLowerHex(tp, 36, 52) || !isLowerHex(tp, 53, 55)) {
    return null;
  }
  if (tp.startsWith('ff') || isZero(tp, 3, 35) || isZero(tp, 36, 52)) return null;
  const flags = tp.charCodeAt(54);
  // The sampled bit is the low bit of the last hex digit: odd digit ⇔ sampled ('1','3',…,'9','b','d','f').
  const low = flags <= 57 ? flags - 48 : flags - 87;
  return { traceId: tp.slice(3, 35), spanId: tp.slice(36, 52), sampled: (low & 1) === 1 };
}

/** A span id: 16 lowercase hex digits at `from`, not all zero (as the propagators require), or ''. */
function spanIdAt(s: string, from: number): string {
  const to = from + 16;
  return s.length >= to && isLowerHex(s, from, to) && !isZero(s, from, to) ? s.slice(from, to) : '';
}

/** A B3 trace id: 16 or 32 lowercase hex digits, not all zero; 64-bit ids are left-padded to 128 bits. */
function b3TraceId(s: string, from: number, to: number): string | null {
  const len = to - from;
  if ((len !== 16 && len !== 32) || !isLowerHex(s, from, to) || isZero(s, from, to)) return null;
  const id = s.slice(from, to);
  return len === 32 ? id : `0000000000000000${id}`;
}

/** `traceid-spanid[-sampled[-parentspanid]]`, sampled one of `1`, `0`, `d`. */
function fromB3Single(b3: string): CallerTrace | null {
  const dash = b3.indexOf('-');
  if (dash < 0) return null;
  const traceId = b3TraceId(b3, 0, dash);
  const spanId = spanIdAt(b3, dash + 1);
  if (traceId === null || spanId === '') return null;
  const flag = b3[dash + 17] === '-' ? b3[dash + 18] : undefined;
  // Anything but a `-` after the span id (a longer id) leaves the parent to the propagator.
  return {
    traceId,
    spanId: b3.length === dash + 17 || b3[dash + 17] === '-' ? spanId : '',
    sampled: flag === '1' || flag === 'd',
  };
}

const B3_SAMPLED: ReadonlySet<string> = new Set(['1', 'true', 'True']);
const B3_UNSAMPLED: ReadonlySet<string> = new Set(['0', 'false', 'False']);

export function readCallerTrace(headers: Readonly<Record<string, string>>): CallerTrace | null {
  const tp = headers.traceparent;
  if (tp !== undefined) {
    const t = fromTraceparent(tp);
    if (t !== null) return t;
  }
  // A non-empty `b3` header is the only B3 the propagator reads (the x-b3-* headers are then ignored), even when
  // it carries no ids (`b3: 0`, a sampling decision only).
  const b3 = headers.b3;
  if (b3 !== undefined && b3 !== '') return fromB3Single(b3);
  const multi = headers['x-b3-traceid'];
  if (multi !== undefined) {
    const traceId = b3TraceId(multi, 0, multi.length);
    if (traceId !== null) {
      const sampled = headers['x-b3-sampled'];
      const debug = headers['x-b3-flags'] === '1';
      // As the B3 multi propagator: any other x-b3-sampled value (without the debug flag) is no context at all.
      if (!debug && sampled !== undefined && !B3_SAMPLED.has(sampled) && !B3_UNSAMPLED.has(sampled)) return null;
      const span = headers['x-b3-spanid'] ?? '';
      return {
        traceId,
        spanId: span.length === 16 ? spanIdAt(span, 0) : '',
        sampled: debug || (sampled !== undefined && B3_SAMPLED.has(sampled)),
      };
    }
  }
  return null;
}

/** The caller's trace id, or '' when the request carries no (valid) trace context. */
export function callerTraceId(headers: Readonly<Record<string, string>>): string {
  return readCallerTrace(headers)?.traceId ?? '';
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
