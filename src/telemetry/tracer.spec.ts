import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { ALLOW_ORDERS, outcome } from '../../test/telemetry/fixtures.js';
import { ATTR } from './attributes.js';
import { CORRELATION_TRACER, callerTraceId } from './tracer.js';
import { createTracing } from './tracing.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const config = { enabled: true, serviceName: 'mesh-authz', allowSampleRate: 1 };

describe('callerTraceId', () => {
  it('reads W3C first, then single and multi-header B3, padding 64-bit B3 ids', () => {
    expect(callerTraceId({ traceparent: `00-${TRACE}-00f067aa0ba902b7-01` })).toBe(TRACE);
    expect(callerTraceId({ b3: `${TRACE}-00f067aa0ba902b7-1` })).toBe(TRACE);
    expect(callerTraceId({ 'x-b3-traceid': 'a3ce929d0e0e4736' })).toBe('0000000000000000a3ce929d0e0e4736');
  });

  it('ignores malformed and all-zero ids', () => {
    expect(callerTraceId({ traceparent: 'garbage' })).toBe('');
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
        reasonCode: 'ALLOW_MATCHED',
        decision: {
          allowed: true,
          code: 'ALLOW_MATCHED',
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
    expect(s?.attributes[ATTR.allowed]).toBe(true);
    expect(s?.attributes[ATTR.denied]).toBe(false);
    expect(s?.attributes[ATTR.policy]).toBe('shop/orders-allow');
    expect(s?.status.code).toBe(0); // UNSET: allows are not errors
    expect(s?.events.map((e) => e.name)).toEqual(['identity.start']);
    await tracing.shutdown();
  });

  it('is off (correlation only) when OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none', () => {
    expect(createTracing(config, { version: 't', env: { OTEL_SDK_DISABLED: 'true' } }).enabled).toBe(false);
    expect(createTracing(config, { version: 't', env: { OTEL_TRACES_EXPORTER: 'none' } }).enabled).toBe(false);
    expect(createTracing({ ...config, enabled: false }, { version: 't', env: {} }).tracer).toBe(CORRELATION_TRACER);
  });
});
