import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHoldingStreams } from '../../bench/hostile-client.js';
import { memoryMb } from '../../bench/proc.js';
import { type BuiltCli, buildCli } from '../support/built-cli.js';
import { connect, httpCheck, TRANSPORTS } from '../support/harness.js';
import { type ServeProcess, startServeProcess } from '../support/serve-process.js';

/**
 * Issue 12 item 3: a client that opens hundreds of streams, each announcing a 1 MiB message and sending most of
 * it, must not grow the server without bound (the pod is OOM-killed at 512Mi and then Envoy denies everything),
 * and a normal caller must still get answers. The server is `mesh-authz serve` in its own process, so its RSS
 * (from /proc) is its own. Figures are printed; the bound asserted is generous (before the buffer caps the same
 * attack added about 700 MB); performance itself is measured by `npm run bench:hostile`, not here.
 */

const MB = 1 << 20;

describe.each(TRANSPORTS)('hostile clients (transport %s): streams holding unfinished 1 MiB messages', (transport) => {
  let cli: BuiltCli;
  let dir: string;
  let server: ServeProcess;

  beforeAll(async () => {
    cli = buildCli(`hostile-${transport}`);
    dir = mkdtempSync(join(tmpdir(), 'hostile-'));
    server = await startServeProcess(cli, dir, { transport });
  }, 60_000);
  afterAll(async () => {
    server?.run.child.kill('SIGKILL');
    await server?.run.exit;
    cli?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('800 streams x ~0.9 MiB held: RSS growth stays bounded and a normal caller is answered', async () => {
    const client = connect(server.grpc);
    try {
      const warm = await client.check(httpCheck('/allowed/x'));
      expect(warm.status?.code ?? 0).toBe(0);
      const before = memoryMb(server.pid, 'VmRSS');
      const attack = openHoldingStreams(server.grpc, {
        connections: 8,
        streamsPerConnection: 100,
        announceBytes: MB,
        sendBytes: MB - 100 * 1024,
      });
      try {
        // A normal caller during the attack, on its own connection.
        const during = await client.check(httpCheck('/allowed/x'), 30_000);
        expect(during.status?.code ?? 0).toBe(0);
        await attack.settled;
        const peak = memoryMb(server.pid, 'VmHWM');
        const after = memoryMb(server.pid, 'VmRSS');
        const denied = await client.check(httpCheck('/secret'), 30_000);
        expect(denied.status.code).toBe(7);
        console.info(
          `hostile streams: RSS before ${before.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, after ${after.toFixed(0)} MB; ` +
            `${attack.closedByServer()} of 800 streams reset by the server`,
        );
        // The bound is what protects the pod. Which layer holds the attack back differs by Node version: on Node 20
        // the buffer caps reset most of the streams (768 of 800 measured); on Node 24 the attack stayed under the
        // caps (0 resets, ~125 MB growth measured), so the reset count is printed, not asserted.
        expect(peak - before).toBeLessThan(250);
      } finally {
        attack.close();
      }
    } finally {
      client.close();
    }
  }, 120_000);
});
