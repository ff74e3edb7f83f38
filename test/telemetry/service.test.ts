import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import type { AuthzService, ListeningAddresses } from '../../src/server/service.js';
import { createTelemetry, type Telemetry, telemetryServiceParts } from '../../src/telemetry/index.js';
import { type Clients, connect, httpCheck, startService } from '../support/harness.js';
import { LogSink } from './fixtures.js';
import { OtlpReceiver } from './otlp-receiver.js';

/**
 * The real service over gRPC on loopback, with telemetry wired the way `serve` wires it
 * (`telemetryServiceParts`): a denied Check's decision id travels in the response header, the decision log line,
 * the exported span and the metrics, and the admin listener serves `/metrics` that promtool accepts.
 */

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';

describe('telemetry wired into the service', () => {
  let receiver: OtlpReceiver;
  let telemetry: Telemetry;
  let service: AuthzService;
  let addresses: ListeningAddresses;
  let clients: Clients;
  const sink = new LogSink();

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    const config = configSchema.parse({
      telemetry: { tracing: { enabled: true, endpoint: receiver.url, allowSampleRate: 0 } },
    }).telemetry;
    telemetry = await createTelemetry(config, { version: '0.0.0-service', logDestination: sink, env: {} });
    ({ service, addresses } = await startService({}, telemetryServiceParts(telemetry)));
    clients = connect(addresses.grpc);
  });

  afterAll(async () => {
    clients.close();
    await service.shutdown('test done');
    await receiver.close();
  });

  it('one denied request: the same decision id in the response, the log line and the span; same trace', async () => {
    const res = await clients.check(httpCheck('/forbidden', { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } }));
    expect(res.status.code).toBe(7); // PERMISSION_DENIED
    const header = res.deniedResponse?.headers?.find((h) => h.header.key === 'x-mesh-authz-decision-id');
    const decisionId = header?.header.value ?? '';
    expect(decisionId).not.toBe('');

    await telemetry.flush();
    await receiver.waitFor(1);
    const span = receiver.spans.find((s) => s.attributes['mesh_authz.decision_id'] === decisionId);
    expect(span?.traceId).toBe(TRACE);
    expect(span?.parentSpanId).toBe(PARENT);
    expect(span?.attributes['mesh_authz.decision']).toBe('deny');

    const line = sink.decisions().find((l) => l.decision_id === decisionId);
    expect(line).toMatchObject({ trace_id: TRACE, span_id: span?.spanId, allowed: false, path: '/forbidden' });
  });

  it('serves /metrics on the admin listener, counting the decisions, in a format promtool accepts', async () => {
    await clients.check(httpCheck('/allowed/x'));
    const res = await fetch(`http://${addresses.admin}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/mesh_authz_decisions_total\{result="allow",status="OK",policy="[^"]*",dry_run="false"\} 1/);
    expect(text).toMatch(/mesh_authz_decisions_total\{result="deny",status="PERMISSION_DENIED",[^}]*\} 1/);
    const lint = spawnSync('/usr/bin/promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');
    expect(lint.status).toBe(0);
  });
});
