import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IdentitySource, staticPolicySource } from '../../src/authz/seams.js';
import type { AuthzService, ListeningAddresses } from '../../src/server/service.js';
import { type Clients, connect, httpCheck, startService, TRANSPORTS } from '../support/harness.js';

describe.each(TRANSPORTS)('transport %s', (transport) => {
  describe('gRPC server (grpc-js client over loopback)', () => {
    let service: AuthzService;
    let addresses: ListeningAddresses;
    let client: Clients;

    beforeAll(async () => {
      ({ service, addresses } = await startService({ server: { transport } }));
      client = connect(addresses.grpc);
    });
    afterAll(async () => {
      client.close();
      await service.shutdown('test');
    });

    it('allows a request the policy set allows, with gRPC OK and an ok_response', async () => {
      const res = await client.check(httpCheck('/allowed/x'));
      expect(res.status?.code ?? 0).toBe(0);
      expect(res.okResponse).toBeDefined();
      expect(res.deniedResponse ?? null).toBeNull();
    });

    it('denies an unmatched request with 403, a reason header and a body', async () => {
      const res = await client.check(httpCheck('/secret'));
      expect(res.status.code).toBe(7);
      expect(res.deniedResponse?.status.code).toBe(403);
      const reason = res.deniedResponse?.headers?.find((h) => h.header.key === 'x-mesh-authz-reason');
      // response.detail defaults to minimal: the class only (test/e2e/deny-detail.test.ts covers the levels).
      expect(reason?.header.value).toBe('denied');
      expect(res.deniedResponse?.body).toContain('Forbidden');
    });

    it('reports SERVING for the server and the Authorization service, NOT_FOUND for others', async () => {
      expect(await client.health('')).toBe(1);
      expect(await client.health('envoy.service.auth.v3.Authorization')).toBe(1);
      await expect(client.health('nope')).rejects.toMatchObject({ code: 5 });
    });

    it('serves /healthz and /readyz on the admin listener', async () => {
      const healthz = await fetch(`http://${addresses.admin}/healthz`);
      expect(healthz.status).toBe(200);
      const readyz = await fetch(`http://${addresses.admin}/readyz`);
      expect(readyz.status).toBe(200);
      expect((await fetch(`http://${addresses.admin}/nope`)).status).toBe(404);
    });
  });

  describe('before a policy set has loaded', () => {
    it('denies every check UNAVAILABLE and reports NOT_SERVING (fail closed)', async () => {
      const { service, addresses } = await startService(
        { server: { transport } },
        { policies: staticPolicySource(null) },
      );
      const client = connect(addresses.grpc);
      try {
        const res = await client.check(httpCheck('/allowed/x'));
        // Denied although the path would be allowed: nothing has loaded, so nothing can be allowed.
        expect(res.status.code).toBe(14);
        expect(res.deniedResponse?.status.code).toBe(403);
        expect(await client.health()).toBe(2);
        expect((await fetch(`http://${addresses.admin}/readyz`)).status).toBe(503);
      } finally {
        client.close();
        await service.shutdown('test');
      }
    });
  });

  describe('drain timeout', () => {
    it('closes anyway when in-flight checks outlast server.drainTimeoutMs (they get an RPC error, never an allow)', async () => {
      const never: IdentitySource = { verify: () => new Promise(() => {}), close() {} };
      const { service, addresses } = await startService(
        { server: { transport, drainTimeoutMs: 100, checkTimeoutMs: 60_000 } },
        { identity: never },
      );
      const client = connect(addresses.grpc);
      try {
        const pending = client.check(httpCheck('/allowed/x'), 60_000);
        while (service.inFlight() < 1) await new Promise((r) => setTimeout(r, 10));
        await service.shutdown('test');
        await expect(pending).rejects.toMatchObject({ code: expect.any(Number) });
      } finally {
        client.close();
      }
    });
  });
});
