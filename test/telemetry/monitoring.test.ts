import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { configSchema } from '../../src/config/schema.js';
import type { AuthzService, ListeningAddresses } from '../../src/server/service.js';
import { createTelemetry, type Telemetry, telemetryServiceParts } from '../../src/telemetry/index.js';
import { type Clients, connect, httpCheck, startService } from '../support/harness.js';
import { LogSink } from './fixtures.js';
import { OtlpReceiver } from './otlp-receiver.js';

/**
 * The shipped alerts and dashboard (istio/monitoring/) work against the metrics mesh-authz really serves:
 * promtool checks and unit-tests the rules, every dashboard query parses as PromQL, and every metric a rule or
 * a panel queries is on a running service's /metrics.
 */

const DIR = join(import.meta.dirname, '../../istio/monitoring');
const PROMTOOL = '/usr/bin/promtool';

interface RuleFile {
  spec: { groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[] };
}
interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { query?: string | { query: string } }[] };
}

const ruleFile = parse(readFileSync(join(DIR, 'prometheusrule.yaml'), 'utf8')) as RuleFile;
const dashboard = JSON.parse(readFileSync(join(DIR, 'dashboard.json'), 'utf8')) as Dashboard;

/** Grafana's variables replaced by values PromQL accepts. */
function concrete(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replace(/\$[a-z_]+/g, '.*');
}

const ruleExprs = ruleFile.spec.groups.flatMap((g) => g.rules.map((r) => r.expr));
const panelExprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
const variableExprs = dashboard.templating.list
  .map((v) => (typeof v.query === 'string' ? v.query : v.query?.query))
  .filter((q): q is string => q?.startsWith('label_values(') === true)
  .map((q) => /^label_values\(([^,]+),/.exec(q)?.[1] ?? '');

/** The metric names an expression reads (ours all start with mesh_authz_ or grpc_server_). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(mesh_authz_[a-z0-9_]+|grpc_server_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

function run(args: string[], cwd: string) {
  const r = spawnSync(PROMTOOL, args, { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('istio/monitoring: alerts and dashboard', () => {
  let dir: string;
  let receiver: OtlpReceiver;
  let telemetry: Telemetry;
  let service: AuthzService;
  let addresses: ListeningAddresses;
  let clients: Clients;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mesh-authz-monitoring-'));
    receiver = await OtlpReceiver.start();
    const config = configSchema.parse({
      telemetry: {
        log: { otlp: { enabled: true, endpoint: receiver.logsUrl } },
        tracing: { enabled: true, endpoint: receiver.url, allowSampleRate: 0 },
      },
    }).telemetry;
    telemetry = await createTelemetry(config, { version: '0.0.0-mon', logDestination: new LogSink(), env: {} });
    ({ service, addresses } = await startService({}, telemetryServiceParts(telemetry)));
    clients = connect(addresses.grpc);
  });

  afterAll(async () => {
    clients.close();
    await service.shutdown('test done');
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes promtool check rules and promtool test rules', () => {
    writeFileSync(join(dir, 'rules.yaml'), stringify(ruleFile.spec));
    copyFileSync(join(DIR, 'prometheusrule.test.yaml'), join(dir, 'prometheusrule.test.yaml'));
    const check = run(['check', 'rules', 'rules.yaml'], dir);
    expect(check.out).toContain('SUCCESS: 5 rules found');
    expect(check.status).toBe(0);
    const test = run(['test', 'rules', 'prometheusrule.test.yaml'], dir);
    expect(test.out).toContain('SUCCESS');
    expect(test.status).toBe(0);
    // Each alert has a unit test.
    const tests = readFileSync(join(DIR, 'prometheusrule.test.yaml'), 'utf8');
    for (const g of ruleFile.spec.groups) for (const r of g.rules) expect(tests).toContain(`alertname: ${r.alert}`);
  });

  it('has dashboard queries that all parse as PromQL', () => {
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(8);
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: [...panelExprs, ...variableExprs].map((expr, i) => ({
            record: `dashboard:q${i}`,
            expr: concrete(expr),
          })),
        },
      ],
    };
    writeFileSync(join(dir, 'dashboard-queries.yaml'), stringify(rules));
    const check = run(['check', 'rules', 'dashboard-queries.yaml'], dir);
    expect(check.out).toContain('SUCCESS');
    expect(check.status).toBe(0);
  });

  it('queries only metrics a running mesh-authz serves on /metrics', async () => {
    // A few Checks so that labelled series exist too (families are declared from the start either way).
    await clients.check(httpCheck('/allowed/x'));
    await clients.check(httpCheck('/forbidden'));
    const text = await (await fetch(`http://${addresses.admin}/metrics`)).text();
    const families = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]!));
    const served = (name: string) =>
      families.has(name) || families.has(name.replace(/_(bucket|sum|count)$/, '')) || families.has(`${name}_total`);
    const queried = new Set([...ruleExprs, ...panelExprs, ...variableExprs].flatMap(metricNames));
    expect(queried.size).toBeGreaterThan(10);
    for (const name of queried) expect(served(name), `${name} is not on /metrics`).toBe(true);
  });
});
