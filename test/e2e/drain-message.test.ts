import http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import { GRPC_CHECK_PATH } from '../../bench/frame.js';
import type { ServiceLogger } from '../../src/server/service.js';
import { connect, httpCheck, startService, TRANSPORTS } from '../support/harness.js';
import { slowIdentity } from '../support/slow-identity.js';

/**
 * Issue 12 item 4: the drain-timeout message counts checks being decided, not streams. A stream holding an
 * unfinished message is not a check; a check waiting on a slow identity source is one.
 */

function capture(): { logger: ServiceLogger; warnings: { obj: Record<string, unknown>; msg: string }[] } {
  const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
  return {
    warnings,
    logger: { info() {}, error() {}, warn: (obj, msg) => warnings.push({ obj: obj as Record<string, unknown>, msg }) },
  };
}

describe.each(TRANSPORTS)('transport %s', (transport) => {
  describe('the drain-timeout message', () => {
    it('counts a check that is being decided', async () => {
      const { logger, warnings } = capture();
      const { service, addresses } = await startService(
        { server: { transport, drainTimeoutMs: 300 } },
        { identity: slowIdentity, logger },
      );
      const client = connect(addresses.grpc);
      const pending = client
        .check(httpCheck('/allowed/x', { headers: { 'x-test-delay-ms': '8000' } }), 10_000)
        .catch(() => null);
      // Wait until the check has reached the handler (not a fixed sleep: the machine may be loaded).
      for (let i = 0; i < 400 && service.inFlight() === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(service.inFlight()).toBe(1);
      await service.shutdown('test');
      await pending;
      client.close();
      const w = warnings.find((x) => x.msg.startsWith('drain timeout'));
      expect(w?.msg).toBe('drain timeout: closing with 1 check still in flight');
      expect(w?.obj.inFlight).toBe(1);
    });

    it('does not call an unfinished message a check', async () => {
      const { logger, warnings } = capture();
      const { service, addresses } = await startService({ server: { transport, drainTimeoutMs: 300 } }, { logger });
      const session = http2.connect(`http://${addresses.grpc}`);
      session.on('error', () => {});
      const stream = session.request(
        { ':method': 'POST', ':path': GRPC_CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' },
        { endStream: false },
      );
      stream.on('error', () => {});
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(1000, 1);
      stream.write(Buffer.concat([prefix, Buffer.alloc(10)]));
      // Wait until the server has seen the stream.
      const guard = (service as unknown as { server: { guard: { openStreams: number } } }).server.guard;
      for (let i = 0; i < 400 && guard.openStreams === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await service.shutdown('test');
      session.destroy();
      const w = warnings.find((x) => x.msg.startsWith('drain timeout'));
      expect(w?.msg).toBe('drain timeout: no check in flight; closing the connections still open');
      expect(w?.obj).toMatchObject({ inFlight: 0, openStreams: 1 });
    });
  });
});
