import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceError } from '../../src/server/errors.js';
import type { AuthzService } from '../../src/server/service.js';
import { connect, httpCheck, startService, TRANSPORTS } from '../support/harness.js';
import { type Issued, issueLeaf, makeCa, type TestCa } from '../support/tls-pki.js';

/** Real TLS over loopback: server-only TLS, mTLS with required client certificates, and hot certificate reload. */

let dir: string;
let ca: TestCa;
let otherCa: TestCa;
let server: Issued;
let client: Issued;
let stranger: Issued;

const creds = (root: TestCa, leaf?: Issued) =>
  grpc.credentials.createSsl(
    Buffer.from(root.certPem),
    leaf ? Buffer.from(leaf.keyPem) : null,
    leaf ? Buffer.from(leaf.certPem) : null,
  );

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mesh-authz-tls-'));
  ca = await makeCa('Mesh Test CA');
  otherCa = await makeCa('Other CA');
  server = await issueLeaf(ca, {
    cn: 'mesh-authz',
    dns: ['localhost'],
    ips: ['127.0.0.1'],
    uri: 'spiffe://test.local/ns/mesh/sa/authz',
  });
  client = await issueLeaf(ca, { cn: 'envoy', uri: 'spiffe://test.local/ns/shop/sa/gateway' });
  stranger = await issueLeaf(otherCa, { cn: 'stranger', uri: 'spiffe://evil.local/ns/x/sa/y' });
  writeFileSync(join(dir, 'server.pem'), server.certPem);
  writeFileSync(join(dir, 'server.key'), server.keyPem);
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(TRANSPORTS)('transport %s', (transport) => {
  describe('TLS', () => {
    it('serves checks over TLS to a client that trusts the server CA', async () => {
      const { service, addresses } = await startService(
        { server: { transport, tls: { cert: 'server.pem', key: 'server.key' } } },
        {},
        dir,
      );
      const c = connect(addresses.grpc, creds(ca));
      try {
        expect(addresses.tls).toBe(true);
        expect((await c.check(httpCheck('/allowed/x'))).status?.code ?? 0).toBe(0);
      } finally {
        c.close();
        await service.shutdown('test');
      }
    });

    it('refuses to start with unusable TLS files, naming them', async () => {
      writeFileSync(join(dir, 'broken.pem'), 'not a certificate');
      await expect(
        startService({ server: { transport, tls: { cert: 'broken.pem', key: 'server.key' } } }, {}, dir),
      ).rejects.toSatisfy(
        (e) => e instanceof ServiceError && e.code === 'tls_invalid' && e.message.includes('broken.pem'),
      );
    });
  });

  describe('mTLS with required client certificates', () => {
    let service: AuthzService;
    let target: string;
    beforeAll(async () => {
      const tls = { cert: 'server.pem', key: 'server.key', clientCa: 'ca.pem', requireClientCert: true };
      const started = await startService({ server: { transport, tls } }, {}, dir);
      service = started.service;
      target = started.addresses.grpc;
      expect(started.addresses.mtls).toBe(true);
    });
    afterAll(() => service.shutdown('test'));

    it('accepts a client certificate signed by the client CA', async () => {
      const c = connect(target, creds(ca, client));
      try {
        expect((await c.check(httpCheck('/secret'))).status.code).toBe(7);
        expect(await c.health()).toBe(1);
      } finally {
        c.close();
      }
    });

    it('rejects a client with no certificate (the handshake fails: no check is ever evaluated)', async () => {
      const c = connect(target, creds(ca));
      try {
        await expect(c.check(httpCheck('/allowed/x'), 3000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      } finally {
        c.close();
      }
    });

    it('rejects a client certificate from another CA', async () => {
      const c = connect(target, creds(ca, stranger));
      try {
        await expect(c.check(httpCheck('/allowed/x'), 3000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      } finally {
        c.close();
      }
    });
  });

  describe('certificate rotation', () => {
    it('picks up a new certificate and CA from disk without dropping the listener or open connections', async () => {
      const rot = mkdtempSync(join(tmpdir(), 'mesh-authz-rot-'));
      writeFileSync(join(rot, 'svid.pem'), server.certPem);
      writeFileSync(join(rot, 'svid.key'), server.keyPem);
      writeFileSync(join(rot, 'bundle.pem'), ca.certPem);
      const tls = { cert: 'svid.pem', key: 'svid.key', clientCa: 'bundle.pem', requireClientCert: true };
      const { service, addresses } = await startService({ server: { transport, tls } }, {}, rot);
      const before = connect(addresses.grpc, creds(ca, client));
      try {
        expect((await before.check(httpCheck('/allowed/x'))).status?.code ?? 0).toBe(0);

        // Rotate to a new trust domain CA: new server SVID, new client bundle.
        const newCa = await makeCa('Rotated CA');
        const newServer = await issueLeaf(newCa, { dns: ['localhost'], ips: ['127.0.0.1'] });
        const newClient = await issueLeaf(newCa, { cn: 'envoy-2' });
        writeFileSync(join(rot, 'svid.key'), newServer.keyPem);
        writeFileSync(join(rot, 'svid.pem'), newServer.certPem);
        writeFileSync(join(rot, 'bundle.pem'), newCa.certPem);

        // Poll until a client that only trusts the new CA can connect (the watcher checks every 2 s).
        let rotated = false;
        for (let i = 0; i < 40 && !rotated; i++) {
          const after = connect(addresses.grpc, creds(newCa, newClient));
          try {
            rotated = ((await after.check(httpCheck('/allowed/x'), 1000)).status?.code ?? 0) === 0;
          } catch {
            await new Promise((r) => setTimeout(r, 250));
          } finally {
            after.close();
          }
        }
        expect(rotated).toBe(true);
        // The connection made before the rotation is still up and still served.
        expect((await before.check(httpCheck('/allowed/y'))).status?.code ?? 0).toBe(0);
      } finally {
        before.close();
        await service.shutdown('test');
        rmSync(rot, { recursive: true, force: true });
      }
    });
  });
});
