import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltCli, buildCli } from '../support/built-cli.js';
import { connect, httpCheck } from '../support/harness.js';
import { startServeProcess } from '../support/serve-process.js';

/**
 * Issue 12 item 4: rollouts without 403s. `mesh-authz serve` in its own process gets SIGTERM while a caller keeps
 * checking: for `shutdownGraceMs` it still accepts new connections and answers checks while gRPC health and
 * /readyz say NOT_SERVING; then it drains and exits 0 within grace + drainTimeoutMs, even though its trace
 * exporter points at a collector that accepts and never answers (the OTLP exporter would wait 10 s).
 */

/** Long enough for the probes below on a loaded machine (the whole suite runs in parallel). */
const GRACE_MS = 4000;
const DRAIN_MS = 1000;
/** Slack for a loaded machine; well under the hung exporter's 10 s, which the old code added to the exit. */
const SLACK_MS = 4000;

describe('SIGTERM: grace, then drain', () => {
  let cli: BuiltCli;
  let dir: string;
  let collector: Server;

  beforeAll(async () => {
    cli = buildCli('grace');
    dir = mkdtempSync(join(tmpdir(), 'grace-'));
    // A stand-in OTLP collector that hangs: it reads the request and never responds.
    collector = createServer(() => {});
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    collector.closeAllConnections();
    await new Promise((resolve) => collector.close(resolve));
    cli.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps answering (new connections too) while NOT_SERVING, then exits 0 within the bound', async () => {
    const port = (collector.address() as AddressInfo).port;
    const server = await startServeProcess(
      cli,
      dir,
      { shutdownGraceMs: GRACE_MS, drainTimeoutMs: DRAIN_MS },
      {
        telemetry: {
          log: { decisions: 'none' },
          tracing: { enabled: true, endpoint: `http://127.0.0.1:${port}/v1/traces`, allowSampleRate: 1 },
        },
      },
    );
    const steady = connect(server.grpc);
    // A denied check: its span is queued for export to the hung collector.
    expect((await steady.check(httpCheck('/secret'))).status.code).toBe(7);
    expect(await steady.health()).toBe(1);

    // A caller under load: checks back to back on its open connection, counting answers after SIGTERM.
    let stop = false;
    let answeredAfterTerm = 0;
    let term = false;
    const load = (async () => {
      while (!stop) {
        try {
          const res = await steady.check(httpCheck('/allowed/x'));
          expect(res.status?.code ?? 0).toBe(0);
          if (term) answeredAfterTerm++;
        } catch {
          return; // the drain closed the connection
        }
      }
    })();

    const started = Date.now();
    term = true;
    server.run.child.kill('SIGTERM');
    await server.run.waitForOutput(/still answering checks during the grace period/);

    // During the grace: a brand-new connection is accepted and answered, and health says NOT_SERVING.
    expect((await fetch(`http://${server.admin}/readyz`)).status).toBe(503);
    expect((await fetch(`http://${server.admin}/healthz`)).status).toBe(200);
    const fresh = connect(server.grpc);
    try {
      expect((await fresh.check(httpCheck('/allowed/x'))).status?.code ?? 0).toBe(0);
      expect((await fresh.check(httpCheck('/secret'))).status.code).toBe(7);
      expect(await fresh.health()).toBe(2);
      expect(await fresh.health('envoy.service.auth.v3.Authorization')).toBe(2);
    } finally {
      fresh.close();
    }

    const code = await server.run.exit;
    const elapsed = Date.now() - started;
    stop = true;
    await load;
    steady.close();
    expect(code).toBe(0);
    expect(answeredAfterTerm).toBeGreaterThan(0);
    console.info(`SIGTERM → exit in ${elapsed} ms (grace ${GRACE_MS} + drain ${DRAIN_MS})`);
    expect(elapsed).toBeGreaterThanOrEqual(GRACE_MS);
    expect(elapsed).toBeLessThan(GRACE_MS + DRAIN_MS + SLACK_MS);
    expect(server.run.stdout()).toMatch(/"msg":"stopped"/);
  }, 60_000);
});
