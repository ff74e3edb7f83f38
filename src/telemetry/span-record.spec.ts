import { SpanStatusCode } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { outcome } from '../../test/telemetry/fixtures.js';
import { ATTR, CHECK_SPAN_NAME } from './attributes.js';
import { applyAttributeLimits, randomId, SPAN_LIMITS } from './span-record.js';
import { createTracing } from './tracing.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const UNSAMPLED = `00-${TRACE.slice(0, 24)}ffffffff-00f067aa0ba902b7-00`; // low bits ≈ 1: never under the rate

async function traced(
  checks: (tracer: ReturnType<typeof createTracing>['tracer']) => void,
  rate = 0,
): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  const tracing = createTracing(
    { enabled: true, serviceName: 'mesh-authz', allowSampleRate: rate },
    { version: 't', exporter, processor: 'simple', env: {} },
  );
  checks(tracing.tracer);
  await tracing.forceFlush();
  const spans = exporter.getFinishedSpans();
  await tracing.shutdown();
  return spans;
}

const allowed = outcome({ allowed: true, status: 'OK', httpStatus: 200, decision: null });

describe('Check spans built at the end', () => {
  it('decides sampling first: unsampled allows hand nothing to the processor, every deny is exported with its attributes', async () => {
    const spans = await traced((tracer) => {
      for (let i = 0; i < 200; i++) {
        const span = tracer.start({ traceparent: UNSAMPLED });
        span.event('identity.start');
        const denied = i % 4 === 0;
        span.end(denied ? outcome({ decisionId: `d-${i}` }) : allowed);
        expect(span.spanId === '').toBe(!denied);
      }
    });
    expect(spans).toHaveLength(50);
    expect(spans.map((s) => s.attributes[ATTR.decisionId])).toEqual(Array.from({ length: 50 }, (_, k) => `d-${k * 4}`));
    for (const s of spans) {
      expect(s.name).toBe(CHECK_SPAN_NAME);
      expect(s.attributes[ATTR.decision]).toBe('deny');
      expect(s.attributes[ATTR.reasonCode]).toBe('no_allow_matched');
      expect(s.attributes[ATTR.rpcSystem]).toBe('grpc');
      expect(s.spanContext().traceId).toBe(`${TRACE.slice(0, 24)}ffffffff`);
      expect(s.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
      expect(s.status.code).toBe(SpanStatusCode.UNSET);
    }
  });

  it('keeps phase events in order with their times inside the span, and wall-clock times', async () => {
    const before = Date.now();
    const [s] = await traced((tracer) => {
      const span = tracer.start({});
      span.event('identity.start');
      span.event('identity.end');
      span.event('cache', { hit: true });
      span.event('decision.end');
      span.event('late');
      span.end(outcome({ phase: 'internal', status: 'UNAVAILABLE', reasonCode: 'internal' }));
    });
    const after = Date.now();
    expect(s?.events.map((e) => e.name)).toEqual(['identity.start', 'identity.end', 'cache', 'decision.end', 'late']);
    expect(s?.events[2]?.attributes).toEqual({ hit: true });
    const start = hrTimeToMilliseconds(s!.startTime);
    const end = hrTimeToMilliseconds(s!.endTime);
    expect(start).toBeGreaterThanOrEqual(before - 50);
    expect(end).toBeLessThanOrEqual(after + 50);
    const times = s!.events.map((e) => hrTimeToMilliseconds(e.time));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times[0]).toBeGreaterThanOrEqual(start - 0.001);
    expect(times.at(-1)).toBeLessThanOrEqual(end + 0.001);
    // A Check the service could not decide is this span's error.
    expect(s?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'UNAVAILABLE: internal' });
  });

  it('a sampled root span reports the same trace id before and after it ends', async () => {
    let before = '';
    let span: ReturnType<ReturnType<typeof createTracing>['tracer']['start']> | undefined;
    const [s] = await traced((tracer) => {
      span = tracer.start({});
      before = span.traceId;
      span.end(allowed);
    }, 1);
    expect(before).toMatch(/^[0-9a-f]{32}$/);
    expect(s?.spanContext().traceId).toBe(before);
    expect(span?.spanId).toBe(s?.spanContext().spanId);
    expect(s?.parentSpanContext).toBeUndefined();
  });

  it('applies the span limits a hostile request could push: long values cut, oldest events dropped', async () => {
    const [s] = await traced((tracer) => {
      const span = tracer.start({});
      for (let i = 0; i < SPAN_LIMITS.eventCount + 4; i++) span.event(`e${i}`);
      span.end(outcome({ reason: `no rule matched ${'x'.repeat(5000)}` }));
    });
    expect(String(s?.attributes[ATTR.reason]).length).toBe(SPAN_LIMITS.attributeValueLength);
    expect(s?.events).toHaveLength(SPAN_LIMITS.eventCount);
    expect(s?.events[0]?.name).toBe('e4');
    expect(s?.droppedEventsCount).toBe(4);
  });

  it('limits attribute count and string arrays; never emits an all-zero id', () => {
    const attrs: Record<string, string | string[]> = { list: ['a', 'b'.repeat(2000)] };
    for (let i = 0; i < 70; i++) attrs[`k${i}`] = 'v';
    expect(applyAttributeLimits(attrs)).toBe(71 - SPAN_LIMITS.attributeCount);
    expect(Object.keys(attrs)).toHaveLength(SPAN_LIMITS.attributeCount);
    expect((attrs.list as string[])[1]).toHaveLength(SPAN_LIMITS.attributeValueLength);
    for (let i = 0; i < 100; i++) {
      expect(randomId(8)).toMatch(/^[0-9a-f]{16}$/);
      expect(randomId(8)).not.toBe('0'.repeat(16));
    }
  });
});
