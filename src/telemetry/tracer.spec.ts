import { isSpanContextValid, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { ALLOW_ORDERS, outcome } from '../../test/telemetry/fixtures.js';
import { ATTR } from './attributes.js';
import { CORRELATION_TRACER, callerTraceId, readCallerTrace } from './trace-headers.js';
import { traceIdUnderRate } from './tracer.js';
import { batching, createPropagator, createTracing } from './tracing.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const config = { enabled: true, serviceName: 'mesh-authz', allowSampleRate: 1 };

describe('callerTraceId', () => {
  it('reads W3C first, then single and multi-header B3, padding 64-bit B3 ids', () => {
    expect(callerTraceId({ traceparent: `00-${TRACE}-00f067aa0ba902b7-01` })).toBe(TRACE);
    expect(callerTraceId({ b3: `${TRACE}-00f067aa0ba902b7-1` })).toBe(TRACE);
    expect(callerTraceId({ 'x-b3-traceid': 'a3ce929d0e0e4736' })).toBe('0000000000000000a3ce929d0e0e4736');
  });

  it('reads the sampled flag of each format', () => {
    expect(readCallerTrace({ traceparent: `00-${TRACE}-00f067aa0ba902b7-01` })?.sampled).toBe(true);
    expect(readCallerTrace({ traceparent: `00-${TRACE}-00f067aa0ba902b7-02` })?.sampled).toBe(false);
    expect(readCallerTrace({ b3: `${TRACE}-00f067aa0ba902b7-d` })?.sampled).toBe(true);
    expect(readCallerTrace({ b3: `${TRACE}-00f067aa0ba902b7-0` })?.sampled).toBe(false);
    expect(readCallerTrace({ b3: `${TRACE}-00f067aa0ba902b7` })?.sampled).toBe(false);
    expect(readCallerTrace({ 'x-b3-traceid': TRACE, 'x-b3-sampled': '1' })?.sampled).toBe(true);
    expect(readCallerTrace({ 'x-b3-traceid': TRACE, 'x-b3-flags': '1' })?.sampled).toBe(true);
    expect(readCallerTrace({ 'x-b3-traceid': TRACE })?.sampled).toBe(false);
    // W3C wins over B3, as in the propagator.
    const both = { traceparent: `00-${TRACE}-00f067aa0ba902b7-00`, b3: `${'1'.repeat(32)}-00f067aa0ba902b7-1` };
    expect(readCallerTrace(both)).toEqual({ traceId: TRACE, spanId: '00f067aa0ba902b7', sampled: false });
  });

  it('ignores malformed and all-zero ids', () => {
    expect(callerTraceId({ traceparent: 'garbage' })).toBe('');
    expect(callerTraceId({ traceparent: `ff-${TRACE}-00f067aa0ba902b7-01` })).toBe('');
    expect(callerTraceId({ traceparent: `00-${TRACE.toUpperCase()}-00f067aa0ba902b7-01` })).toBe('');
    expect(callerTraceId({ traceparent: `00-${TRACE}-${'0'.repeat(16)}-01` })).toBe('');
    expect(callerTraceId({ traceparent: `00-${TRACE}-00f067aa0ba902b7-01x` })).toBe('');
    expect(callerTraceId({ b3: `${TRACE}-00f067aa0b` })).toBe('');
    expect(callerTraceId({ 'x-b3-traceid': 'xyz' })).toBe('');
    expect(callerTraceId({ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` })).toBe('');
    expect(callerTraceId({})).toBe('');
  });

  it('the correlation tracer (tracing off) keeps the caller trace id, with no span', () => {
    const span = CORRELATION_TRACER.start({ traceparent: `00-${TRACE}-00f067aa0ba902b7-01` });
    expect(span.traceId).toBe(TRACE);
    expect(span.spanId).toBe('');
  });
});

describe('OtelCheckTracer via createTracing', () => {
  it('starts a root span without trace headers and records the decision at end', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing(config, { version: 't', exporter, processor: 'simple', env: {} });
    const span = tracing.tracer.start({});
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    span.event('identity.start');
    span.end(
      outcome({
        allowed: true,
        status: 'OK',
        httpStatus: 200,
        reasonCode: 'allow_matched',
        decision: {
          allowed: true,
          code: 'allow_matched',
          reason: 'r',
          policy: ALLOW_ORDERS,
          ruleIndex: 0,
          shadow: [],
          audit: [],
        },
      }),
    );
    await tracing.forceFlush();
    const [s] = exporter.getFinishedSpans();
    expect(s?.attributes[ATTR.decision]).toBe('allow');
    expect(s?.attributes[ATTR.policy]).toBe('shop/orders-allow');
    expect(s?.status.code).toBe(0); // UNSET: allows are not errors
    expect(s?.events.map((e) => e.name)).toEqual(['identity.start']);
    await tracing.shutdown();
  });

  it('gives a deny span the parent the W3C + B3 propagators read from the headers, for every shape of header', async () => {
    const PARENT = '00f067aa0ba902b7';
    const OTHER = TRACE.replace('4', '5');
    const cases: Record<string, string>[] = [
      { traceparent: `00-${TRACE}-${PARENT}-00` }, // fast path
      { traceparent: `00-${TRACE}-${PARENT}-01` },
      { traceparent: `00-${TRACE}-${PARENT}-03` },
      { traceparent: `00-${TRACE}-${PARENT}-00`, tracestate: 'vendor=x' }, // propagator (keeps tracestate)
      { traceparent: `00-${TRACE}-${PARENT}-01-extra` }, // version 00 with extra fields: invalid
      { traceparent: `01-${TRACE}-${PARENT}-01-extra` }, // a later version may add fields
      { traceparent: `00-${TRACE}-${'0'.repeat(16)}-01` }, // all-zero parent: invalid
      { traceparent: `00-${TRACE.toUpperCase()}-${PARENT}-01` }, // uppercase: invalid
      { b3: `${TRACE}-${PARENT}-0` },
      { b3: `${TRACE}-${PARENT}-d` },
      { b3: `${TRACE}-${PARENT}` },
      { b3: `${TRACE.slice(16)}-${PARENT}-1` }, // 64-bit trace id, padded
      { b3: `${TRACE}-${'0'.repeat(16)}-1` }, // all-zero span id: invalid
      { b3: '0' }, // sampling only: no context, and x-b3-* are then ignored
      { b3: '0', 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT },
      { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': '0' },
      { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': 'True' },
      { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': 'yes' }, // invalid sampled value
      { 'x-b3-traceid': TRACE, 'x-b3-spanid': PARENT, 'x-b3-sampled': 'd', 'x-b3-flags': '1' }, // debug wins
      { 'x-b3-traceid': TRACE }, // no span id
      { b3: `${TRACE}-${PARENT}-0`, traceparent: `00-${OTHER}-${PARENT}-00` }, // W3C wins
      { b3: `${TRACE}-${PARENT}-0`, traceparent: `00-${OTHER}-${PARENT}-00-x` }, // invalid W3C: B3 stands
      {}, // no trace header: no parent, without running the propagator
      { 'x-b3-spanid': PARENT, 'x-b3-sampled': '1' }, // no trace id: no context for the propagators either
    ];
    const propagator = createPropagator();
    const getter = {
      get: (c: Record<string, string>, k: string) => c[k],
      keys: (c: Record<string, string>) => Object.keys(c),
    };
    for (const headers of cases) {
      const expected = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, headers, getter));
      const exporter = new InMemorySpanExporter();
      const tracing = createTracing(
        { ...config, allowSampleRate: 0 },
        { version: 't', exporter, processor: 'simple', env: {} },
      );
      tracing.tracer.start(headers).end(outcome({}));
      await tracing.forceFlush();
      const [s] = exporter.getFinishedSpans();
      const label = JSON.stringify(headers);
      if (expected && isSpanContextValid(expected)) {
        expect(s?.spanContext().traceId, label).toBe(expected.traceId);
        expect(s?.parentSpanContext?.spanId, label).toBe(expected.spanId);
      } else {
        // No valid caller context: the span starts its own trace.
        expect(s?.parentSpanContext, label).toBeUndefined();
      }
      if (headers.tracestate) expect(s?.spanContext().traceState?.get('vendor')).toBe('x');
      await tracing.shutdown();
    }
  });

  it('batches for denial floods unless OTEL_BSP_* says otherwise', () => {
    expect(batching({})).toEqual({ maxQueueSize: 4096, maxExportBatchSize: 256, scheduledDelayMillis: 1000 });
    // A set variable wins (read from the given environment, so the export accounting knows the queue size).
    expect(batching({ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_SCHEDULE_DELAY: '50' })).toEqual({
      maxQueueSize: 100,
      maxExportBatchSize: 256,
      scheduledDelayMillis: 50,
    });
  });

  it('is off (correlation only) when OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none', () => {
    expect(createTracing(config, { version: 't', env: { OTEL_SDK_DISABLED: 'true' } }).enabled).toBe(false);
    expect(createTracing(config, { version: 't', env: { OTEL_TRACES_EXPORTER: 'none' } }).enabled).toBe(false);
    expect(createTracing({ ...config, enabled: false }, { version: 't', env: {} }).tracer).toBe(CORRELATION_TRACER);
  });
});

const LOW = `${'a'.repeat(24)}00000001`; // low 32 bits ≈ 0
const HIGH = `${'a'.repeat(24)}ffffffff`; // low 32 bits ≈ 1

describe('traceIdUnderRate', () => {
  it('is deterministic per trace id and honours the bounds', () => {
    expect(traceIdUnderRate(LOW, 0.01)).toBe(true);
    expect(traceIdUnderRate(HIGH, 0.99)).toBe(false);
    expect(traceIdUnderRate(HIGH, 1)).toBe(true);
    expect(traceIdUnderRate(LOW, 0)).toBe(false);
  });

  it('samples close to the configured fraction of well-spread trace ids', () => {
    let hits = 0;
    for (let i = 0; i < 10_000; i++) {
      const id = (Math.imul(i, 2654435761) >>> 0).toString(16).padStart(8, '0');
      if (traceIdUnderRate(`${'0'.repeat(24)}${id}`, 0.1)) hits++;
    }
    expect(hits).toBeGreaterThan(800);
    expect(hits).toBeLessThan(1200);
  });
});

describe('export rule', () => {
  const denied = outcome();
  const allowed = outcome({ allowed: true, status: 'OK', httpStatus: 200, decision: null });
  const dryRun = outcome({ allowed: true, status: 'OK', httpStatus: 200, dryRun: true });

  async function exported(rate: number, headers: Record<string, string>, o: typeof denied, random = 0.5) {
    const exporter = new InMemorySpanExporter();
    const tracing = createTracing(
      { ...config, allowSampleRate: rate },
      { version: 't', exporter, processor: 'simple', env: {}, random: () => random },
    );
    const span = tracing.tracer.start(headers);
    span.event('identity.start');
    span.end(o);
    await tracing.forceFlush();
    const spans = exporter.getFinishedSpans();
    await tracing.shutdown();
    return { spans, span };
  }
  const tp = (id: string, flags: string) => ({ traceparent: `00-${id}-00f067aa0ba902b7-${flags}` });

  it('exports every deny and would-deny at rate 0, in the caller trace, with buffered events', async () => {
    for (const o of [denied, dryRun]) {
      const { spans, span } = await exported(0, tp(HIGH, '00'), o);
      expect(spans).toHaveLength(1);
      expect(spans[0]?.spanContext().traceId).toBe(HIGH);
      expect(spans[0]?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
      expect(spans[0]?.events.map((e) => e.name)).toEqual(['identity.start']);
      // The CheckSpan reports the exported span's ids, for the decision log.
      expect(span.spanId).toBe(spans[0]?.spanContext().spanId);
    }
  });

  it('drops an unsampled allow (no span, log keeps only the caller trace id)', async () => {
    const { spans, span } = await exported(0.5, tp(HIGH, '00'), allowed);
    expect(spans).toHaveLength(0);
    expect(span.traceId).toBe(HIGH);
    expect(span.spanId).toBe('');
  });

  it('exports an allow when the caller sampled the trace or the trace id is under the rate', async () => {
    expect((await exported(0, tp(HIGH, '01'), allowed)).spans).toHaveLength(1);
    expect((await exported(0.5, tp(LOW, '00'), allowed)).spans).toHaveLength(1);
  });

  it('draws at random for a request that carries no trace', async () => {
    expect((await exported(0.5, {}, allowed, 0.4)).spans).toHaveLength(1);
    expect((await exported(0.5, {}, allowed, 0.6)).spans).toHaveLength(0);
    const root = await exported(0.5, {}, denied, 0.6);
    expect(root.spans).toHaveLength(1);
    expect(root.span.traceId).toBe(root.spans[0]?.spanContext().traceId);
  });
});
