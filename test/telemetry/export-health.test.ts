import { afterEach, describe, expect, it } from 'vitest';
import { CheckPipeline } from '../../src/authz/pipeline.js';
import { configSchema } from '../../src/config/schema.js';
import { createTelemetry, type Telemetry } from '../../src/telemetry/index.js';
import { checkRequest, LogSink, stubIdentity, tinyPolicySet } from './fixtures.js';
import { OtlpReceiver } from './otlp-receiver.js';

/**
 * Export failures are loud and counted (issue: 469 of 994 spans lost with nothing said). A real OTLP/HTTP
 * receiver on loopback decodes the protobuf and plays the collector's failures: refusing (400), stuck (never
 * answers). The spans' fate shows in `mesh_authz_spans_exported_total` / `_dropped_total{reason}`, and in a few
 * warning lines per outage, not one per span.
 */

const K8S_ENV = {
  K8S_POD_NAME: 'mesh-authz-7d9f-abcde',
  K8S_POD_UID: '0c5a1e3e-1111-4222-8333-944445555666',
  K8S_NAMESPACE_NAME: 'istio-system',
  K8S_NODE_NAME: 'node-a',
};

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

describe('export accounting against a real OTLP receiver', () => {
  let receiver: OtlpReceiver;
  let telemetry: Telemetry;
  let sink: LogSink;

  async function setup(env: Record<string, string>, extra: Record<string, unknown> = {}): Promise<CheckPipeline> {
    receiver = await OtlpReceiver.start();
    sink = new LogSink();
    const config = configSchema.parse({
      telemetry: {
        log: { decisions: 'deny', otlp: { enabled: true, endpoint: receiver.logsUrl } },
        tracing: { enabled: true, endpoint: receiver.url, serviceName: 'mesh-authz-health', allowSampleRate: 0 },
        denyRateLimit: { perSecond: 0 },
        ...extra,
      },
    }).telemetry;
    telemetry = await createTelemetry(config, { version: '1.2.3', logDestination: sink, env });
    return new CheckPipeline({
      policies: () => tinyPolicySet(7),
      identity: stubIdentity,
      mode: 'enforce',
      tracer: telemetry.tracer,
      observers: [telemetry.observer],
    });
  }

  afterEach(async () => {
    await telemetry.shutdown(500);
    await receiver.close();
  });

  it('counts and logs a refusing collector a few lines per outage, and says when export recovers', async () => {
    const pipeline = await setup({});
    receiver.mode = 'fail';
    for (let i = 0; i < 30; i++) await pipeline.check(checkRequest({ path: `/admin/${i}` }));
    await telemetry.flush();
    let text = await telemetry.metrics.render();
    expect(metricValue(text, 'mesh_authz_spans_dropped_total{reason="export_failed"}')).toBe(30);
    expect(metricValue(text, 'mesh_authz_spans_exported_total')).toBe(0);
    expect(
      metricValue(text, 'mesh_authz_otlp_log_records_dropped_total{stream="decisions",reason="export_failed"}'),
    ).toBe(30);
    const warnings = sink.lines().filter((l) => l.level === 40 && String(l.msg).includes('dropped'));
    // Loud but rate-limited: one line per signal for this outage, with the count and the collector's answer.
    expect(warnings.map((w) => w.signal).sort()).toEqual(['OTLP decision log records', 'spans']);
    const spanWarning = warnings.find((w) => w.signal === 'spans')!;
    expect(spanWarning.export_failed).toBeGreaterThan(0);
    expect(String(spanWarning.error)).toMatch(/400|Bad Request|refuses/i);

    receiver.mode = 'ok';
    for (let i = 0; i < 5; i++) await pipeline.check(checkRequest({ path: `/admin/ok-${i}` }));
    await telemetry.flush();
    await receiver.waitFor(5);
    text = await telemetry.metrics.render();
    expect(metricValue(text, 'mesh_authz_spans_exported_total')).toBe(5);
    expect(metricValue(text, 'mesh_authz_otlp_log_records_exported_total{stream="decisions"}')).toBe(5);
    expect(metricValue(text, 'mesh_authz_decision_log_written_total')).toBe(35);
    expect(sink.lines().some((l) => l.msg === 'spans export recovered' && l.lost === 30)).toBe(true);
  });

  it('counts a full queue, and what a stuck collector still held at shutdown', async () => {
    const pipeline = await setup({
      OTEL_BSP_MAX_QUEUE_SIZE: '5',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '5',
      OTEL_BSP_SCHEDULE_DELAY: '60000',
    });
    receiver.mode = 'hang';
    // 5 spans fill a batch that goes to the (stuck) exporter, 5 more fill the queue, the other 10 find it full.
    for (let i = 0; i < 20; i++) await pipeline.check(checkRequest({ path: `/admin/${i}` }));
    let text = await telemetry.metrics.render();
    expect(metricValue(text, 'mesh_authz_spans_dropped_total{reason="queue_full"}')).toBe(10);
    await telemetry.shutdown(300);
    text = await telemetry.metrics.render();
    expect(metricValue(text, 'mesh_authz_spans_dropped_total{reason="shutdown"}')).toBe(10);
    expect(metricValue(text, 'mesh_authz_spans_exported_total')).toBe(0);
    expect(sink.lines().some((l) => String(l.msg).includes('collector did not answer in time'))).toBe(true);
    expect(receiver.requests['/v1/traces']).toBeGreaterThanOrEqual(1);
  });

  it('puts one resource on spans, OTLP decision logs and metrics; the log record matches the log line', async () => {
    const pipeline = await setup(K8S_ENV);
    const res = await pipeline.check(
      checkRequest({
        path: '/admin/users',
        headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', 'x-request-id': 'r-1' },
      }),
    );
    await telemetry.flush();
    await receiver.waitFor(1);
    await receiver.waitForLogs(1);
    const span = receiver.spans[0]!;
    const log = receiver.logs[0]!;
    const expected = {
      'service.name': 'mesh-authz-health',
      'service.version': '1.2.3',
      'service.instance.id': K8S_ENV.K8S_POD_UID,
      'k8s.pod.name': K8S_ENV.K8S_POD_NAME,
      'k8s.pod.uid': K8S_ENV.K8S_POD_UID,
      'k8s.namespace.name': 'istio-system',
      'k8s.node.name': 'node-a',
    };
    expect(span.resource).toMatchObject(expected);
    expect(log.resource).toEqual(span.resource);
    const text = await telemetry.metrics.render();
    const info = text.split('\n').find((l) => l.startsWith('target_info{'))!;
    for (const [k, v] of Object.entries(expected)) expect(info).toContain(`${k.replace(/\./g, '_')}="${v}"`);

    // The OTLP record: same fields as the JSON line, and the trace and span ids set on the record itself.
    const line = sink.decisions()[0]!;
    expect(log.eventName).toBe('mesh_authz.decision');
    expect(log.traceId).toBe(span.traceId);
    expect(log.spanId).toBe(span.spanId);
    expect(log.attributes.decision_id).toBe(res.decisionId);
    for (const [k, v] of Object.entries(line)) {
      if (['level', 'time', 'service', 'version', 'pid', 'hostname', 'log', 'msg'].includes(k) || v === null) continue;
      expect(log.attributes[k], k).toEqual(v);
    }
  });
});
