import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltCli, buildCli, runCli } from '../support/built-cli.js';
import { writeExamplesConfig } from '../support/examples-config.js';
import { connect, httpCheck } from '../support/harness.js';
import { OtlpReceiver } from './otlp-receiver.js';

/**
 * A stuck collector cannot hold a terminating pod: `serve` with tracing pointed at an OTLP receiver on loopback
 * that reads each export and never answers, an exporter timeout of 60 s, and `server.drainTimeoutMs` 2000. On
 * SIGTERM the process gives up on the collector when the drain budget is spent, says so, and exits 0. Without
 * the bound it waits for the SDK's 30 s export timeout. The assertion is a generous bound (10 s, well under
 * either SDK timeout), not a performance figure.
 */

const DRAIN_MS = 2000;

describe('shutdown with a hung collector', () => {
  let cli: BuiltCli;
  let dir: string;
  let receiver: OtlpReceiver;

  beforeAll(async () => {
    cli = buildCli('shutdown-e2e');
    dir = mkdtempSync(join(tmpdir(), 'mesh-authz-shutdown-'));
    receiver = await OtlpReceiver.start();
    receiver.mode = 'hang';
  });

  afterAll(async () => {
    await receiver.close();
    cli.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 within server.drainTimeoutMs, counting and logging the spans it gave up on', async () => {
    const log = join(dir, 'service.log');
    const config = writeExamplesConfig(join(dir, 'config.yaml'), {
      drainTimeoutMs: DRAIN_MS,
      telemetry: `  log:\n    destination: ${log}\n  tracing:\n    enabled: true\n    endpoint: ${receiver.url}\n    allowSampleRate: 1\n`,
    });
    const previous = process.env.OTEL_EXPORTER_OTLP_TIMEOUT;
    process.env.OTEL_EXPORTER_OTLP_TIMEOUT = '60000';
    const serve = runCli(cli, ['serve', '--config', config]);
    if (previous === undefined) delete process.env.OTEL_EXPORTER_OTLP_TIMEOUT;
    else process.env.OTEL_EXPORTER_OTLP_TIMEOUT = previous;

    const [, grpcAddress] = await serve.waitForOutput(/mesh-authz listening: gRPC (127\.0\.0\.1:\d+)/);
    const clients = connect(grpcAddress!);
    for (let i = 0; i < 5; i++) await clients.check(httpCheck(`/nope/${i}`));
    clients.close();
    // Wait until an export is stuck in the collector (the batch goes out within a second).
    while ((receiver.requests['/v1/traces'] ?? 0) === 0) await new Promise((r) => setTimeout(r, 50));

    const started = Date.now();
    serve.child.kill('SIGTERM');
    expect(await serve.exit).toBe(0);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(10_000);

    const lines = readFileSync(log, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => String(l.msg).includes('collector did not answer in time'))).toBe(true);
    const dropped = lines.find((l) => l.signal === 'spans' && String(l.msg).includes('dropped'));
    expect(dropped?.shutdown).toBe(5);
  }, 30_000);
});
