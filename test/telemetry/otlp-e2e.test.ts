import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckPipeline } from '../../src/authz/pipeline.js';
import { configSchema } from '../../src/config/schema.js';
import { createTelemetry, type Telemetry } from '../../src/telemetry/index.js';
import { checkRequest, LogSink, stubIdentity, tinyPolicySet } from './fixtures.js';
import { OtlpReceiver } from './otlp-receiver.js';

/**
 * End to end: CheckPipeline → OtelCheckTracer → SDK → OTLP/HTTP protobuf over loopback → our own decoder.
 * Proves a denied check's span continues the caller's W3C trace and carries the reason, and that the decision
 * log line carries the same trace id and decision id.
 */

const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

describe('OTLP export of Check spans', () => {
  let receiver: OtlpReceiver;
  let telemetry: Telemetry;
  let sink: LogSink;
  let pipeline: CheckPipeline;

  beforeEach(async () => {
    receiver = await OtlpReceiver.start();
    sink = new LogSink();
    const config = configSchema.parse({
      telemetry: {
        log: { decisions: 'deny' },
        tracing: { enabled: true, endpoint: receiver.url, serviceName: 'mesh-authz-e2e', allowSampleRate: 0 },
      },
    }).telemetry;
    telemetry = await createTelemetry(config, { version: '0.0.0-e2e', logDestination: sink, env: {} });
    pipeline = new CheckPipeline({
      policies: () => tinyPolicySet(7),
      identity: stubIdentity,
      mode: 'enforce',
      tracer: telemetry.tracer,
      observers: [telemetry.observer],
    });
  });

  afterEach(async () => {
    await telemetry.shutdown();
    await receiver.close();
  });

  it('exports the denied check as a child of the caller span, with reason and policy; the log line agrees', async () => {
    const denied = await pipeline.check(
      checkRequest({
        path: '/admin/users?x=1',
        headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00`, 'x-request-id': 'req-42' },
      }),
    );
    expect(denied.allowed).toBe(false);
    await telemetry.flush();
    await receiver.waitFor(1);

    const span = receiver.spans.find((s) => s.attributes['mesh_authz.decision_id'] === denied.decisionId);
    expect(span).toBeDefined();
    if (span === undefined) return;
    // Continues the caller's trace: same trace id, parent = the caller's span. Exported although the caller's
    // flags said "not sampled" and allowSampleRate is 0: denies are always kept.
    expect(span.traceId).toBe(CALLER_TRACE);
    expect(span.parentSpanId).toBe(CALLER_SPAN);
    expect(span.kind).toBe(2); // SERVER
    // RPC semantic conventions: named {rpc.service}/{rpc.method}; the gRPC call succeeded (status code 0), so
    // the span status stays UNSET; the deny is an outcome, found by mesh_authz.decision.
    expect(span.name).toBe('envoy.service.auth.v3.Authorization/Check');
    expect(span.attributes['rpc.system']).toBe('grpc');
    expect(span.attributes['rpc.service']).toBe('envoy.service.auth.v3.Authorization');
    expect(span.attributes['rpc.method']).toBe('Check');
    expect(span.attributes['rpc.grpc.status_code']).toBe(0);
    expect(span.status.code).toBe(0);
    expect(span.attributes['mesh_authz.decision']).toBe('deny');
    expect(span.attributes['mesh_authz.status']).toBe('PERMISSION_DENIED');
    expect(span.attributes['mesh_authz.response.http_status']).toBe(403);
    expect(span.attributes['http.request.header.x-request-id']).toEqual(['req-42']);
    // The authorised request's facts are not claimed as this span's own HTTP call.
    expect(span.attributes['url.path']).toBeUndefined();
    expect(span.attributes['http.request.method']).toBeUndefined();
    expect(span.attributes['http.response.status_code']).toBeUndefined();
    expect(span.attributes['mesh_authz.reason_code']).toBe('deny_matched');
    expect(span.attributes['mesh_authz.reason']).toBe('DENY policy shop/deny-admin rule 0 matched');
    expect(span.attributes['mesh_authz.policy']).toBe('shop/deny-admin');
    expect(span.attributes['mesh_authz.policy.action']).toBe('DENY');
    expect(span.attributes['mesh_authz.rule']).toBe(0);
    expect(span.attributes['mesh_authz.source.principal']).toBe('spiffe://cluster.local/ns/shop/sa/frontend');
    expect(span.attributes['mesh_authz.workload.namespace']).toBe('shop');
    expect(span.attributes['mesh_authz.workload.labels']).toBe('app=orders');
    expect(span.attributes['mesh_authz.request.path']).toBe('/admin/users');
    expect(span.attributes['mesh_authz.request.method']).toBe('GET');
    expect(span.attributes['mesh_authz.shadow']).toEqual(['shop/strict-dry-run#-:deny']);
    expect(span.events.map((e) => e.name)).toEqual(['identity.start', 'identity.end', 'decision.end']);
    expect(span.resource['service.name']).toBe('mesh-authz-e2e');
    expect(span.resource['service.version']).toBe('0.0.0-e2e');

    const lines = sink.decisions();
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line.decision_id).toBe(denied.decisionId);
    expect(line.trace_id).toBe(CALLER_TRACE);
    expect(line.span_id).toBe(span.spanId);
    expect(line.request_id).toBe('req-42');
    expect(line.reason_code).toBe('deny_matched');
    expect(line.policy).toBe('shop/deny-admin');
    expect(line.path).toBe('/admin/users');
  });

  it('continues a B3 trace too', async () => {
    const b3Trace = '80f198ee56343ba864fe8b2a57d3eff7';
    const b3Span = 'e457b5a2e4d86bd1';
    const res = await pipeline.check(checkRequest({ path: '/admin', headers: { b3: `${b3Trace}-${b3Span}-1` } }));
    await telemetry.flush();
    await receiver.waitFor(1);
    const span = receiver.spans.find((s) => s.attributes['mesh_authz.decision_id'] === res.decisionId);
    expect(span?.traceId).toBe(b3Trace);
    expect(span?.parentSpanId).toBe(b3Span);
  });

  it('drops unsampled allows at rate 0 but keeps allows whose caller trace is sampled', async () => {
    const unsampled = await pipeline.check(
      checkRequest({ path: '/orders', headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` } }),
    );
    const sampled = await pipeline.check(
      checkRequest({ path: '/orders/1', headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } }),
    );
    const denied = await pipeline.check(checkRequest({ path: '/nope' }));
    expect(unsampled.allowed).toBe(true);
    expect(sampled.allowed).toBe(true);
    expect(denied.allowed).toBe(false);
    await telemetry.flush();
    await receiver.waitFor(2);
    const ids = receiver.spans.map((s) => s.attributes['mesh_authz.decision_id']);
    expect(ids).toContain(sampled.decisionId);
    expect(ids).toContain(denied.decisionId);
    expect(ids).not.toContain(unsampled.decisionId);
    // deny mode: only the deny is logged.
    expect(sink.decisions().map((l) => l.decision_id)).toEqual([denied.decisionId]);
  });
});
