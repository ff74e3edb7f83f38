import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRPC_CHECK_PATH } from '../../bench/frame.js';
import type { WireCheckResponse } from '../../src/authz/wire-types.js';
import type { AuthzService } from '../../src/server/service.js';
import { type Clients, connect, httpCheck, startService, TRANSPORTS } from '../support/harness.js';
import { issueLeaf, makeCa } from '../support/tls-pki.js';

/**
 * Issue 12 item 3, through the real server over loopback: limits named in bytes count UTF-8 bytes, over-limit
 * requests are refused while decoding (at the first entry past a limit, src/server/check-decoder.ts), an unfinished message times
 * out, and a TLS handshake that never completes is dropped. Each limit has both sides: just under passes.
 */

function reasonOf(res: WireCheckResponse): string {
  return res.deniedResponse?.headers?.find((h) => h.header.key === 'x-mesh-authz-reason')?.header.value ?? '';
}

describe.each(TRANSPORTS)('transport %s', (transport) => {
  describe('limits on the Check request', () => {
    let service: AuthzService;
    let client: Clients;
    let address: string;

    beforeAll(async () => {
      // detail: full, to read which limit denied; small limits keep the requests small.
      const started = await startService({
        server: {
          transport,
          maxPathBytes: 600,
          maxHeaderBytes: 3000,
          maxHeaders: 20,
          maxLabels: 8,
          messageTimeoutMs: 300,
        },
        response: { detail: 'full' },
      });
      service = started.service;
      address = started.addresses.grpc;
      client = connect(address);
    });
    afterAll(async () => {
      client.close();
      await service.shutdown('test');
    });

    it('path bytes are UTF-8 bytes: 250 euro signs (750 bytes, 250 UTF-16 units) are over 600', async () => {
      const res = await client.check(httpCheck(`/allowed/${'€'.repeat(250)}`));
      expect(res.deniedResponse?.status.code).toBe(403);
      expect(reasonOf(res)).toMatch(/path is longer than 600 bytes/);
      const under = await client.check(httpCheck(`/allowed/${'€'.repeat(190)}`));
      expect(under.status?.code ?? 0).toBe(0);
    });

    it('header bytes are UTF-8 bytes: a 1200-character value of 3-byte characters is over 3000', async () => {
      const res = await client.check(httpCheck('/allowed/x', { headers: { 'x-name': '€'.repeat(1200) } }));
      expect(res.deniedResponse?.status.code).toBe(403);
      expect(reasonOf(res)).toMatch(/headers exceed 3000 bytes/);
      const under = await client.check(httpCheck('/allowed/x', { headers: { 'x-name': '€'.repeat(800) } }));
      expect(under.status?.code ?? 0).toBe(0);
    });

    it('too many headers, labels or context extensions are refused while decoding', async () => {
      const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`x-${i}`, 'v']));
      const headers = await client.check(httpCheck('/allowed/x', { headers: many }));
      expect(reasonOf(headers)).toMatch(/refused while decoding: more than 20 headers/);
      const labels = httpCheck('/allowed/x');
      const lots = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`l${i}`, 'v']));
      labels.attributes!.destination!.labels = lots;
      expect(reasonOf(await client.check(labels))).toMatch(/refused while decoding: more than 8 destination labels/);
      const ext = httpCheck('/allowed/x');
      ext.attributes!.contextExtensions = { namespace: 'shop', app: 'orders', ...lots };
      expect(reasonOf(await client.check(ext))).toMatch(/refused while decoding: more than 8 context extensions/);
      // At the limits: answered as usual.
      const eight = httpCheck('/allowed/x');
      eight.attributes!.destination!.labels = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`l${i}`, 'v']));
      expect((await client.check(eight)).status?.code ?? 0).toBe(0);
    });

    it('an unfinished message is reset after messageTimeoutMs; the connection keeps serving', async () => {
      const session = http2.connect(`http://${address}`);
      session.on('error', () => {});
      try {
        const stream = session.request(
          { ':method': 'POST', ':path': GRPC_CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' },
          { endStream: false },
        );
        stream.on('error', () => {});
        stream.on('response', () => {});
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(1000, 1);
        stream.write(Buffer.concat([prefix, Buffer.alloc(400)]));
        const code = await new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode ?? -1)));
        expect(code).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
        // A normal caller is unaffected.
        expect((await client.check(httpCheck('/allowed/x'))).status?.code ?? 0).toBe(0);
      } finally {
        session.destroy();
      }
    });
  });

  describe('TLS handshake timeout', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'limits-tls-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('a connection that never sends a ClientHello is dropped after tlsHandshakeTimeoutMs', async () => {
      const ca = await makeCa('Limits CA');
      const leaf = await issueLeaf(ca, { cn: 'mesh-authz', ips: ['127.0.0.1'] });
      writeFileSync(join(dir, 'server.pem'), leaf.certPem);
      writeFileSync(join(dir, 'server.key'), leaf.keyPem);
      const { service, addresses } = await startService(
        { server: { transport, tls: { cert: 'server.pem', key: 'server.key' }, tlsHandshakeTimeoutMs: 300 } },
        {},
        dir,
      );
      try {
        const { host, port } = { host: '127.0.0.1', port: Number(addresses.grpc.split(':').pop()) };
        const socket = tcpConnect(port, host);
        socket.on('error', () => {});
        // Node's default would keep it for 120 s (past this test's timeout): the close proves the setting applies.
        await new Promise<void>((resolve) => socket.on('close', () => resolve()));
        expect(socket.destroyed).toBe(true);
      } finally {
        await service.shutdown('test');
      }
    }, 20_000);
  });
});
