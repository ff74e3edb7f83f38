import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import type { AuthzService, ListeningAddresses } from '../../src/server/service.js';
import { createTelemetry, type Telemetry, telemetryServiceParts } from '../../src/telemetry/index.js';
import { type Clients, connect, httpCheck, startService } from '../support/harness.js';
import { LogSink } from './fixtures.js';
import { OtlpReceiver } from './otlp-receiver.js';

/**
 * A flood of denies (one policy, one reason) over real gRPC: the deny rate limit keeps spans and decision log
 * lines to the burst, metrics still count every deny, and every decision id stays findable: each suppressed id
 * lies in the [first, last] range of a record with the same policy and reason. Then the metrics the scraper gets:
 * standard gRPC server metrics, and OpenMetrics with trace exemplars when it asks for OpenMetrics.
 */

const FLOOD = 40;
const BURST = 3;

describe('deny flood, gRPC metrics and exemplars', () => {
  let receiver: OtlpReceiver;
  let telemetry: Telemetry;
  let service: AuthzService;
  let addresses: ListeningAddresses;
  let clients: Clients;
  const sink = new LogSink();
  const ids: string[] = [];

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    const config = configSchema.parse({
      telemetry: {
        tracing: { enabled: true, endpoint: receiver.url, allowSampleRate: 0 },
        // A refill this slow adds no token while the test runs: exactly the burst gets through.
        denyRateLimit: { perSecond: 0.001, burst: BURST },
      },
    }).telemetry;
    telemetry = await createTelemetry(config, { version: '0.0.0-flood', logDestination: sink, env: {} });
    ({ service, addresses } = await startService({}, telemetryServiceParts(telemetry)));
    clients = connect(addresses.grpc);
    for (let i = 0; i < FLOOD; i++) {
      const res = await clients.check(httpCheck('/forbidden'));
      const header = res.deniedResponse?.headers?.find((h) => h.header.key === 'x-mesh-authz-decision-id');
      ids.push(header?.header.value ?? '');
    }
    await telemetry.flush();
    await receiver.waitFor(BURST);
  });

  afterAll(async () => {
    clients.close();
    await service.shutdown('test done');
    await receiver.close();
  });

  it('serves the standard gRPC server metrics and, to an OpenMetrics scraper, exemplars linking to traces', async () => {
    const plain = await fetch(`http://${addresses.admin}/metrics`);
    expect(plain.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await plain.text();
    expect(text).toMatch(/grpc_server_handled_total\{[^}]*grpc_code="OK"[^}]*\} 40\n/);
    expect(text).toMatch(/grpc_server_started_total\{[^}]*\} 40\n/);
    expect(text).toMatch(/grpc_server_handling_seconds_count\{[^}]*\} 40\n/);
    const handled = text.split('\n').find((l) => l.startsWith('grpc_server_handled_total{'))!;
    for (const l of ['grpc_method="Check"', 'grpc_type="unary"', 'grpc_service="envoy.service.auth.v3.Authorization"'])
      expect(handled).toContain(l);
    const lint = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');

    // What Prometheus sends when exemplar storage is on.
    const scrape = await fetch(`http://${addresses.admin}/metrics`, {
      headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' },
    });
    expect(scrape.headers.get('content-type')).toMatch(/^application\/openmetrics-text; version=1.0.0/);
    const open = await scrape.text();
    expect(open.endsWith('# EOF\n')).toBe(true);
    expect(open).toContain('# TYPE mesh_authz_decisions counter\n');
    expect(open).not.toMatch(/\n\n/);
    const exemplars = open.split('\n').filter((l) => l.includes(' # {trace_id="'));
    expect(exemplars.length).toBeGreaterThan(0);
    const spanIds = new Set(receiver.spans.map((s) => `${s.traceId}/${s.spanId}`));
    for (const line of exemplars) {
      expect(line).toMatch(/^mesh_authz_check_duration_seconds_bucket\{result="deny",le="[^"]+"\} \d+ # \{/);
      const m = /trace_id="([0-9a-f]{32})",span_id="([0-9a-f]{16})"\} ([0-9.e-]+) ([0-9.]+)$/.exec(line);
      expect(m, line).not.toBeNull();
      // An exemplar points at a span that was exported.
      expect(spanIds.has(`${m![1]}/${m![2]}`)).toBe(true);
    }
  });
  it('writes the burst as spans and log lines, counts every deny, and keeps each decision id findable', async () => {
    expect(receiver.spans).toHaveLength(BURST);
    expect(sink.decisions()).toHaveLength(BURST);
    const text = await telemetry.metrics.render();
    expect(text).toMatch(new RegExp(`mesh_authz_decisions_total\\{result="deny",[^}]*\\} ${FLOOD}\\n`));
    expect(text).toContain(`mesh_authz_deny_telemetry_suppressed_total ${FLOOD - BURST}\n`);

    // Shutdown reports the suppressions no later record carried, as a service log line with the same fields.
    clients.close();
    await service.shutdown('flood done');
    const reports = sink.lines().filter((l) => l.log === 'decision-suppressed');
    expect(reports).toHaveLength(1);
    const report = reports[0] as { reason_code: string; suppressed: Record<string, string | number> };
    const logged = sink.decisions();
    expect(report.reason_code).toBe(logged[0]!.reason_code);
    expect(report.suppressed.count).toBe(FLOOD - BURST);
    // Every deny is findable: logged by id, or inside a suppressed range (ids of one process sort in order).
    const loggedIds = new Set(logged.map((l) => l.decision_id));
    const first = String(report.suppressed.first_decision_id);
    const last = String(report.suppressed.last_decision_id);
    for (const id of ids) expect(loggedIds.has(id) || (id >= first && id <= last), id).toBe(true);
  });
});
