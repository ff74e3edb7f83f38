import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuthzService } from '../../src/authz/service.js';
import { type IdentitySource, staticPolicySource } from '../../src/authz/sources.js';
import { reconcileCommand } from '../../src/cli/reconcile.js';
import type { IdentityInput } from '../../src/identity/types.js';
import { compilePolicySet, loadPolicyPaths } from '../../src/policy/index.js';
import type { EndUser, PeerIdentity } from '../../src/policy/types.js';
import { type Clients, connect, httpCheck, startService } from '../support/harness.js';

/**
 * End to end: an annotated Service → `reconcile --from --out` → the generated server policy loaded by the real
 * policy engine into the real gRPC service → Envoy-shaped Check requests decided the way the annotations say.
 *
 * Identity here is a stand-in verifier (the real one is another part's work): it trusts Envoy's
 * `source.principal` (as with `trustEnvoyPrincipal` behind Envoy-terminated mTLS) and reads end-user groups from a
 * test header, standing for claims of a verified JWT. The policy decision is entirely the engine's.
 */

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: orders
  namespace: shop
  annotations:
    authz.mesh-authz.io/allow-from: shop/frontend
    authz.mesh-authz.io/allow-methods: GET
    authz.mesh-authz.io/allow-paths: /orders/{*}
    authz.mesh-authz.io/allow-groups: buyers
spec:
  selector: { app: orders }
`;

const identity: IdentitySource = {
  verify(input: IdentityInput) {
    const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(input.principal);
    const peer: PeerIdentity | null = m
      ? {
          spiffeId: input.principal,
          trustDomain: m[1]!,
          namespace: m[2]!,
          serviceAccount: m[3]!,
          expiresAt: input.now + 3_600_000,
          credentialId: input.principal,
        }
      : null;
    const groupsHeader = input.headers['x-test-groups'];
    const groups = groupsHeader ? groupsHeader.split(',') : [];
    const user: EndUser | null = groupsHeader
      ? {
          issuer: 'https://idp.example.com',
          subject: 'alice',
          audiences: ['orders'],
          presenter: null,
          claims: { iss: 'https://idp.example.com', sub: 'alice', groups },
          groups,
          expiresAt: input.now + 3_600_000,
          credentialId: `alice:${groupsHeader}`,
        }
      : null;
    return { ok: true, peer, user };
  },
  close: () => {},
};

describe('annotation → generated policy → real gRPC Check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-authz-e2e-'));
  let service: AuthzService;
  let client: Clients;

  beforeAll(async () => {
    writeFileSync(join(dir, 'service.yaml'), SERVICE);
    const quiet = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const code = await reconcileCommand.run(['--from', join(dir, 'service.yaml'), '--out', join(dir, 'out')]);
    quiet.mockRestore();
    expect(code).toBe(0);
    // Groups without a RequestAuthentication: the server evaluates the full rule (mesh-authz/ folder).
    const parsed = await loadPolicyPaths([join(dir, 'out', 'mesh-authz')]);
    expect(parsed.issues).toEqual([]);
    expect(parsed.policies.map((p) => p.policy.metadata.name)).toEqual(['mesh-authz-orders-server']);
    const set = compilePolicySet(parsed.policies, {}, 1);
    const started = await startService({}, { policies: staticPolicySource(set), identity });
    service = started.service;
    client = connect(started.addresses.grpc);
  });
  afterAll(async () => {
    client?.close();
    await service?.shutdown('test');
    rmSync(dir, { recursive: true, force: true });
  });

  const check = (path: string, opts: { method?: string; groups?: string; principal?: string } = {}) => {
    const req = httpCheck(path, {
      method: opts.method ?? 'GET',
      headers: opts.groups ? { 'x-test-groups': opts.groups } : {},
    });
    if (opts.principal !== undefined) req.attributes!.source!.principal = opts.principal;
    return client.check(req);
  };

  it('allows shop/frontend, GET /orders/{*}, group buyers', async () => {
    const res = await check('/orders/42', { groups: 'buyers' });
    expect(res.status?.code ?? 0).toBe(0);
    expect(res.okResponse).toBeDefined();
  });

  it('denies without the group (no group claim: the when condition never matches)', async () => {
    const res = await check('/orders/42', { groups: 'visitors' });
    expect(res.status.code).toBe(7);
    expect(res.deniedResponse?.status.code).toBe(403);
    expect((await check('/orders/42')).status.code).toBe(7);
  });

  it('denies another caller (principal is not shop/frontend)', async () => {
    const res = await check('/orders/42', {
      groups: 'buyers',
      principal: 'spiffe://cluster.local/ns/shop/sa/intruder',
    });
    expect(res.status.code).toBe(7);
  });

  it('denies another method and paths outside the template (including a traversal)', async () => {
    expect((await check('/orders/42', { groups: 'buyers', method: 'DELETE' })).status.code).toBe(7);
    expect((await check('/orders/42/items', { groups: 'buyers' })).status.code).toBe(7);
    // Normalized to /admin before matching: the template does not match it.
    expect((await check('/orders/42/../../admin', { groups: 'buyers' })).status.code).toBe(7);
  });
});
