import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireCheckResponse } from '../../src/authz/wire-types.js';
import { checkRequestFromJson } from '../../src/server/request-json.js';
import { type BuiltCli, buildCli, runCli } from '../support/built-cli.js';
import { EXAMPLES, writeExamplesConfig } from '../support/examples-config.js';
import { type Clients, connect } from '../support/harness.js';
import { OtlpReceiver } from '../telemetry/otlp-receiver.js';

/**
 * docs/sre-guide.md walked end to end, as an SRE would: the built `serve` with the example config, tracing to an
 * OTLP receiver on loopback and the decision log in a file; example requests (an mTLS caller with a verified
 * certificate, an end user with a verified JWT, a DENY policy match). From the denied response's decision id:
 * (1) the trace span, (2) the decision log line by grep, (3) `explain --as-logged` on that grepped line reaches
 * the logged decision — for the denies and for the allowed lines, which the old jq recipe turned into denies
 * (the log carries no certificate). And every metric the guide names is on /metrics.
 */

const GUIDE = readFileSync(join(import.meta.dirname, '../../docs/sre-guide.md'), 'utf8');

function request(name: string) {
  return checkRequestFromJson(JSON.parse(readFileSync(join(EXAMPLES, 'requests', `${name}.json`), 'utf8')));
}

function header(res: WireCheckResponse, key: string): string {
  const headers = res.deniedResponse?.headers ?? res.okResponse?.headers ?? [];
  return headers.find((h) => h.header.key === key)?.header.value ?? '';
}

describe('the SRE guide, walked end to end', () => {
  let cli: BuiltCli;
  let dir: string;
  let receiver: OtlpReceiver;
  let config: string;
  let log: string;
  let serve: ReturnType<typeof runCli>;
  let clients: Clients;
  let admin: string;

  beforeAll(async () => {
    cli = buildCli('sre-guide');
    dir = mkdtempSync(join(tmpdir(), 'mesh-authz-guide-'));
    receiver = await OtlpReceiver.start();
    log = join(dir, 'mesh-authz.log');
    config = writeExamplesConfig(join(dir, 'config.yaml'), {
      telemetry:
        `  log:\n    decisions: all\n    destination: ${log}\n` +
        `  tracing:\n    enabled: true\n    endpoint: ${receiver.url}\n    allowSampleRate: 0.01\n`,
    });
    serve = runCli(cli, ['serve', '--config', config]);
    const [, grpcAddress] = await serve.waitForOutput(/mesh-authz listening: gRPC (127\.0\.0\.1:\d+)/);
    [, admin] = (await serve.waitForOutput(/admin http:\/\/(127\.0\.0\.1:\d+)/)) as unknown as [string, string];
    clients = connect(grpcAddress!);
  });

  afterAll(async () => {
    clients.close();
    serve.child.kill('SIGTERM');
    await serve.exit;
    await receiver.close();
    cli.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds a denial by its decision id in the trace and the log, and replays every logged line faithfully', async () => {
    const names = ['allowed', 'user-allowed', 'denied', 'denied-by-deny-policy', 'user-denied'];
    const responses = await Promise.all(names.map((n) => clients.check(request(n))));
    const denied = responses[names.indexOf('denied-by-deny-policy')]!;
    expect(denied.status.code).toBe(7);

    // "The denied HTTP response: header x-mesh-authz-decision-id"
    const id = header(denied, 'x-mesh-authz-decision-id');
    expect(id).not.toBe('');

    // 1. From a trace: the span named per the RPC conventions, found by mesh_authz.decision = deny.
    await receiver.waitFor(3);
    const span = receiver.spans.find((s) => s.attributes['mesh_authz.decision_id'] === id)!;
    expect(span.name).toBe('envoy.service.auth.v3.Authorization/Check');
    expect(span.attributes['mesh_authz.decision']).toBe('deny');
    expect(span.attributes['mesh_authz.reason_code']).toBe('deny_matched');
    expect(span.attributes['mesh_authz.source.principal']).toMatch(/^spiffe:\/\//);
    expect(span.resource['service.name']).toBe('mesh-authz');

    // 2. From a decision id: grep '"decision_id":"<id>"' the log (flushed at least every second).
    let grepped = '';
    while (grepped === '') {
      await new Promise((r) => setTimeout(r, 100));
      grepped = readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.includes(`"decision_id":"${id}"`))
        .join('\n');
    }
    const line = JSON.parse(grepped) as Record<string, unknown>;
    expect(line).toMatchObject({ log: 'decision', allowed: false, reason_code: 'deny_matched', span_id: span.spanId });

    // 3. Replay with explain --as-logged, for every line of the log: allowed lines stay allowed.
    const lines = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"msg":"decision"'));
    expect(lines.length).toBe(names.length);
    for (const l of lines) {
      const logged = JSON.parse(l) as { decision_id: string; allowed: boolean; phase: string };
      const file = join(dir, `${logged.decision_id}.jsonl`);
      writeFileSync(file, `${l}\n`);
      const out = JSON.parse(
        execFileSync(
          process.execPath,
          [cli.main, 'explain', '--config', config, '--as-logged', file, '--format', 'json'],
          {
            encoding: 'utf8',
          },
        ),
      ) as { asLogged: { same?: boolean; phase?: string }; decision?: { allowed: boolean } };
      if (logged.phase !== 'decision') {
        expect(out.asLogged.phase).toBe(logged.phase);
        continue;
      }
      expect(out.asLogged.same, l).toBe(true);
      expect(out.decision?.allowed).toBe(logged.allowed);
    }
    // The whole grep output works too, picking the line by --decision-id.
    const all = join(dir, 'all.jsonl');
    writeFileSync(all, `${lines.join('\n')}\n`);
    const text = execFileSync(
      process.execPath,
      [cli.main, 'explain', '--config', config, '--as-logged', all, '--decision-id', id],
      { encoding: 'utf8' },
    );
    expect(text).toContain('identity (as logged, trusted: verified by the server)');
    expect(text).toContain('replay reaches the same decision');
    // Six CLI processes, one after the other: Node's start-up dominates on a loaded machine.
  }, 120_000);

  it('serves every metric the guide names', async () => {
    const metrics = await (await fetch(`http://${admin}/metrics`)).text();
    const named = new Set(
      [...GUIDE.matchAll(/\b((?:mesh_authz|grpc_server)_[a-z0-9_]*[a-z0-9])\b/g)].map((m) => m[1]!),
    );
    expect(named.size).toBeGreaterThan(10);
    for (const name of named) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      expect(metrics, name).toMatch(new RegExp(`^# TYPE (${name}|${family}) `, 'm'));
    }
  });
});
