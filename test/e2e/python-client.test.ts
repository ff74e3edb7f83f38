import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthzService } from '../../src/server/service.js';
import { startService, TRANSPORTS } from '../support/harness.js';
import { python, runPython } from '../support/python.js';
import { slowIdentity } from '../support/slow-identity.js';
import { issueLeaf, makeCa } from '../support/tls-pki.js';

/**
 * The real-client end-to-end suite: Debian's python3-grpcio (a C-core gRPC, nothing shared with grpc-js) with a
 * hand-written protobuf codec drives the server over plaintext and over mTLS.
 */

const ALLOWED = ['check', '--path', '/allowed/orders', '--ext', 'namespace=shop', '--ext', 'app=orders'];
const DENIED = ['check', '--path', '/admin', '--ext', 'namespace=shop'];

describe.each(TRANSPORTS)('transport %s', (transport) => {
  describe('python grpcio client, plaintext', () => {
    let service: AuthzService;
    let target: string;
    beforeAll(async () => {
      const s = await startService({ server: { transport }, response: { detail: 'full' } }, { identity: slowIdentity });
      service = s.service;
      target = s.addresses.grpc;
    });
    afterAll(() => service.shutdown('test'));

    it('gets an allow for an allowed path', async () => {
      const res = await python(['--target', target, ...ALLOWED]);
      expect(res).toMatchObject({ code: 0, status: 'OK', ok: true });
    });

    it('gets a 403 deny with the reason header and body for a denied path', async () => {
      const res = await python(['--target', target, ...DENIED]);
      expect(res).toMatchObject({ code: 7, status: 'PERMISSION_DENIED', denied: true, httpStatus: 403 });
      expect((res.headers as Record<string, string>)['x-mesh-authz-reason']).toContain('no ALLOW policy matched');
      expect(res.body).toMatch(/^Forbidden: /);
    });

    it('gets an explicit DENY policy decision', async () => {
      const res = await python(['--target', target, 'check', '--path', '/deny/this', '--ext', 'namespace=shop']);
      expect((res.headers as Record<string, string>)['x-mesh-authz-reason']).toContain('test/deny-prefix');
    });

    it('reads health: SERVING, and NOT_FOUND for an unknown service', async () => {
      const [all, authz, unknown] = await Promise.all([
        python(['--target', target, 'health']),
        python(['--target', target, 'health', '--service', 'envoy.service.auth.v3.Authorization']),
        python(['--target', target, 'health', '--service', 'nope']),
      ]);
      expect(all).toEqual({ status: 'SERVING' });
      expect(authz).toEqual({ status: 'SERVING' });
      expect(unknown).toMatchObject({ rpcError: 'NOT_FOUND' });
    });
  });

  describe('python grpcio client, mTLS', () => {
    let dir: string;
    let service: AuthzService;
    let target: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'mesh-authz-py-'));
      const ca = await makeCa('Py CA');
      const server = await issueLeaf(ca, { dns: ['localhost'], ips: ['127.0.0.1'] });
      const client = await issueLeaf(ca, { uri: 'spiffe://test.local/ns/shop/sa/envoy' });
      const files = { 'ca.pem': ca.certPem, 'server.pem': server.certPem, 'server.key': server.keyPem };
      for (const [name, text] of Object.entries({
        ...files,
        'client.pem': client.certPem,
        'client.key': client.keyPem,
      })) {
        writeFileSync(join(dir, name), text);
      }
      const tls = { cert: 'server.pem', key: 'server.key', clientCa: 'ca.pem', requireClientCert: true };
      const s = await startService({ server: { transport, tls } }, {}, dir);
      service = s.service;
      target = s.addresses.grpc;
    });
    afterAll(async () => {
      await service.shutdown('test');
      rmSync(dir, { recursive: true, force: true });
    });

    const tlsArgs = () => ['--target', target, '--ca', join(dir, 'ca.pem')];
    const mtlsArgs = () => [...tlsArgs(), '--cert', join(dir, 'client.pem'), '--key', join(dir, 'client.key')];

    it('allows and denies over mTLS', async () => {
      const [allowed, denied, health] = await Promise.all([
        python([...mtlsArgs(), ...ALLOWED]),
        python([...mtlsArgs(), ...DENIED]),
        python([...mtlsArgs(), 'health']),
      ]);
      expect(allowed).toMatchObject({ status: 'OK' });
      expect(denied).toMatchObject({ status: 'PERMISSION_DENIED', httpStatus: 403 });
      expect(health).toEqual({ status: 'SERVING' });
    });

    it('refuses a client without a certificate (handshake fails, nothing is decided)', async () => {
      const res = await python([...tlsArgs(), '--timeout', '3', 'health']);
      expect(res).toMatchObject({ rpcError: 'UNAVAILABLE' });
    });
  });

  describe('graceful shutdown with checks in flight', () => {
    it('reports NOT_SERVING, answers every in-flight check with its decision, then closes', async () => {
      const { service, addresses } = await startService(
        { server: { transport, drainTimeoutMs: 10_000 } },
        { identity: slowIdentity },
      );
      const target = addresses.grpc;
      const watch = runPython(['--target', target, 'watch']);
      await watch.waitFor((l) => l.status === 'SERVING');
      const burst = runPython([
        '--target',
        target,
        '--timeout',
        '20',
        'burst',
        '--count',
        '8',
        '--path',
        '/allowed/slow',
        '--ext',
        'namespace=shop',
        '--header',
        'x-test-delay-ms: 1500',
      ]);
      await burst.waitFor((l) => l.sent === 8);
      while (service.inFlight() < 8) await new Promise((r) => setTimeout(r, 20));

      const stopped = service.shutdown('SIGTERM');
      // Health flips before the drain completes: the watcher sees NOT_SERVING, then its stream ends.
      await watch.waitFor((l) => l.status === 'NOT_SERVING');
      expect(service.inFlight()).toBeGreaterThan(0);
      await stopped;

      const results = (await burst.done).filter((l) => !('sent' in l));
      expect(results).toHaveLength(8);
      // Every in-flight check got its real decision (allowed), none was cut off with an RPC error.
      for (const r of results) expect(r).toMatchObject({ code: 0, status: 'OK' });
      expect(await watch.done).toContainEqual({ end: 'OK' });

      // And the listener is gone.
      const after = await python(['--target', target, '--timeout', '2', 'health']);
      expect(after).toMatchObject({ rpcError: expect.stringMatching(/UNAVAILABLE|DEADLINE_EXCEEDED/) });
    });
  });
});
