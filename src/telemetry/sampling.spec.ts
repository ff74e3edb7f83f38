import { type SpanContext, TraceFlags } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { ATTR } from './attributes.js';
import { shouldExport, traceIdUnderRate } from './sampling.js';

function span(attributes: ReadableSpan['attributes'], traceId: string, parent?: SpanContext): ReadableSpan {
  return {
    attributes,
    parentSpanContext: parent,
    spanContext: () => ({ traceId, spanId: '1'.repeat(16), traceFlags: TraceFlags.SAMPLED }),
  } as ReadableSpan;
}

const LOW = `${'a'.repeat(24)}00000001`; // low 32 bits ≈ 0
const HIGH = `${'a'.repeat(24)}ffffffff`; // low 32 bits ≈ 1

describe('traceIdUnderRate', () => {
  it('is deterministic per trace id and honours the bounds', () => {
    expect(traceIdUnderRate(LOW, 0.01)).toBe(true);
    expect(traceIdUnderRate(HIGH, 0.99)).toBe(false);
    expect(traceIdUnderRate(HIGH, 1)).toBe(true);
    expect(traceIdUnderRate(LOW, 0)).toBe(false);
  });

  it('samples close to the configured fraction of random trace ids', () => {
    let hits = 0;
    for (let i = 0; i < 10_000; i++) {
      const id = ((i * 2654435761) >>> 0).toString(16).padStart(8, '0');
      if (traceIdUnderRate(`${'0'.repeat(24)}${id}`, 0.1)) hits++;
    }
    expect(hits).toBeGreaterThan(800);
    expect(hits).toBeLessThan(1200);
  });
});

describe('shouldExport', () => {
  const sampledParent: SpanContext = { traceId: HIGH, spanId: '2'.repeat(16), traceFlags: 1, isRemote: true };
  const unsampledParent: SpanContext = { ...sampledParent, traceFlags: 0 };

  it('always exports denies and would-denies, whatever the rate', () => {
    expect(shouldExport(span({ [ATTR.allowed]: false }, HIGH, unsampledParent), 0)).toBe(true);
    expect(shouldExport(span({ [ATTR.allowed]: true, [ATTR.dryRun]: true }, HIGH), 0)).toBe(true);
    expect(shouldExport(span({ [ATTR.allowed]: true, [ATTR.shadow]: ['a/b#-:deny'] }, HIGH), 0)).toBe(true);
  });

  it('exports allows under the rate, or when the caller already sampled the trace', () => {
    expect(shouldExport(span({ [ATTR.allowed]: true }, HIGH, unsampledParent), 0.5)).toBe(false);
    expect(shouldExport(span({ [ATTR.allowed]: true, [ATTR.shadow]: ['a/b#0:allow'] }, HIGH), 0.5)).toBe(false);
    expect(shouldExport(span({ [ATTR.allowed]: true }, LOW, unsampledParent), 0.5)).toBe(true);
    expect(shouldExport(span({ [ATTR.allowed]: true }, HIGH, sampledParent), 0)).toBe(true);
  });

  it('exports spans that are not Check spans', () => {
    expect(shouldExport(span({}, HIGH), 0)).toBe(true);
  });
});
