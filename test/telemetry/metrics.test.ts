import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CheckPipeline } from '../../src/authz/pipeline.js';
import { configSchema } from '../../src/config/schema.js';
import { createTelemetry } from '../../src/telemetry/index.js';
import { checkRequest, LogSink, stubIdentity, tinyPolicySet } from './fixtures.js';

/**
 * The Prometheus exposition, driven by real Checks through the pipeline, validated by `promtool check metrics`
 * (Prometheus' own linter: naming, HELP/TYPE, counter suffixes, histogram shape) and served over HTTP.
 */

const PROMTOOL = '/usr/bin/promtool';

async function exercised() {
  const config = configSchema.parse({ telemetry: { log: { decisions: 'none' } } }).telemetry;
  const telemetry = await createTelemetry(config, { version: '1.2.3', logDestination: new LogSink(), env: {} });
  const pipeline = new CheckPipeline({
    policies: () => tinyPolicySet(),
    identity: stubIdentity,
    mode: 'enforce',
    tracer: telemetry.tracer,
    observers: [telemetry.observer],
  });
  await pipeline.check(checkRequest({ path: '/orders/1' })); // allow, shop/orders-allow
  await pipeline.check(checkRequest({ path: '/admin' })); // deny, shop/deny-admin
  await pipeline.check(checkRequest({ path: '/other' })); // deny, no policy matched
  await pipeline.check(checkRequest({ path: '/orders', headers: { authorization: 'Bearer bad-x' } })); // 401
  telemetry.metrics.policyLoaded(7);
  telemetry.metrics.policyReloadFailed();
  telemetry.metrics.setUncoveredWorkloads(3);
  return telemetry;
}

describe('metrics', () => {
  it('passes promtool check metrics', async () => {
    const telemetry = await exercised();
    const text = await telemetry.metrics.render();
    const res = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(res.error).toBeUndefined();
    expect(`${res.stdout}${res.stderr}`.trim()).toBe('');
    expect(res.status).toBe(0);
    await telemetry.shutdown();
  });

  it('counts decisions by result, status, policy and dry-run, with bounded labels', async () => {
    const telemetry = await exercised();
    const text = await telemetry.metrics.render();
    expect(text).toContain(
      'mesh_authz_decisions_total{result="allow",status="OK",policy="shop/orders-allow",dry_run="false"} 1',
    );
    expect(text).toContain(
      'mesh_authz_decisions_total{result="deny",status="PERMISSION_DENIED",policy="shop/deny-admin",dry_run="false"} 1',
    );
    expect(text).toContain(
      'mesh_authz_decisions_total{result="deny",status="PERMISSION_DENIED",policy="",dry_run="false"} 1',
    );
    expect(text).toContain(
      'mesh_authz_decisions_total{result="deny",status="UNAUTHENTICATED",policy="",dry_run="false"} 1',
    );
    expect(text).toContain('mesh_authz_identity_failures_total{reason="jwt_bad_signature"} 1');
    expect(text).toContain('mesh_authz_decision_cache_misses_total 3');
    expect(text).toContain('mesh_authz_check_duration_seconds_count{result="deny"} 3');
    expect(text).toContain('mesh_authz_policy_generation 7');
    expect(text).toContain('mesh_authz_policy_reloads_total 1');
    expect(text).toContain('mesh_authz_policy_reload_failures_total 1');
    expect(text).toContain('mesh_authz_workloads_without_allow 3');
    expect(text).toContain('mesh_authz_build_info{version="1.2.3"} 1');
    // No path, principal or decision id ever becomes a label value.
    expect(text).not.toContain('/orders/1');
    expect(text).not.toContain('spiffe://');
    await telemetry.shutdown();
  });

  it('serves /metrics over HTTP with the Prometheus content type', async () => {
    const telemetry = await exercised();
    const server = createServer((req, res) => void telemetry.metrics.handleMetrics(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    expect(await res.text()).toContain('mesh_authz_decisions_total');
    server.close();
    await telemetry.shutdown();
  });

  it('answers 404 and counts nothing when metrics are disabled', async () => {
    const config = configSchema.parse({ telemetry: { metrics: { enabled: false } } }).telemetry;
    const telemetry = await createTelemetry(config, { version: 'x', logDestination: new LogSink(), env: {} });
    const server = createServer((req, res) => void telemetry.metrics.handleMetrics(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(404);
    await res.text();
    server.close();
    await telemetry.shutdown();
  });
});
