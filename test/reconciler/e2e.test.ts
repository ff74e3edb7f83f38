import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { staticPolicySource } from '../../src/authz/seams.js';
import type { WireCheckRequest, WireCheckResponse } from '../../src/authz/wire-types.js';
import { reconcileCommand } from '../../src/cli/reconcile.js';
import { compilePolicySet } from '../../src/policy/index.js';
import type { AuthzService } from '../../src/server/service.js';
import { createIdentityVerifier, type ManagedIdentityVerifier } from '../../src/sources/identity.js';
import { loadPolicyPaths } from '../../src/sources/policy-files.js';
import { type Clients, connect, startService } from '../support/harness.js';
import { fakeFetch, identityConfig } from '../support/identity-config.js';
import { createCa, createSvid, createTokenIssuer, envoyEncode, type Issued, type TokenIssuer } from '../support/pki.js';

/**
 * End to end: an annotated Service → `reconcile --from --out` → the generated server policy loaded by the real
 * policy engine into the real gRPC service, with the real identity verifier (X.509-SVID of the caller in
 * `source.certificate`, the end user's JWT in `authorization`) → Envoy-shaped Checks decided the way the
 * annotations say.
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

const IDP = 'https://idp.example.com';
const JWKS = 'https://idp.example.com/jwks';

describe('annotation → generated policy → real gRPC Check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-authz-e2e-'));
  let frontend: Issued;
  let intruder: Issued;
  let idp: TokenIssuer;
  let verifier: ManagedIdentityVerifier;
  let service: AuthzService;
  let client: Clients;

  beforeAll(async () => {
    writeFileSync(join(dir, 'service.yaml'), SERVICE);
    const quiet = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const exit = await reconcileCommand.run(['--from', join(dir, 'service.yaml'), '--out', join(dir, 'out')]);
    quiet.mockRestore();
    expect(exit).toBe(0);
    // Groups without a RequestAuthentication: the server evaluates the full rule (the mesh-authz/ folder).
    const parsed = await loadPolicyPaths([join(dir, 'out', 'mesh-authz')]);
    expect(parsed.issues).toEqual([]);
    expect(parsed.policies.map((p) => p.policy.metadata.name)).toEqual(['mesh-authz-orders-server']);

    const root = await createCa({ trustDomain: 'cluster.local' });
    const now = Date.now();
    const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 3600_000) };
    frontend = await createSvid(root, 'spiffe://cluster.local/ns/shop/sa/frontend', validity);
    intruder = await createSvid(root, 'spiffe://cluster.local/ns/shop/sa/intruder', validity);
    writeFileSync(join(dir, 'root.pem'), root.pem);
    idp = await createTokenIssuer(IDP, { kid: 'k1' });
    const net = fakeFetch();
    net.serve(JWKS, idp.jwks);
    verifier = await createIdentityVerifier(
      identityConfig({
        trustBundles: [{ trustDomain: 'cluster.local', pem: 'root.pem' }],
        jwt: { issuers: [{ issuer: IDP, jwks: { url: JWKS }, audiences: ['orders'], algorithms: ['ES256'] }] },
      }),
      { resolvePath: (p) => join(dir, p), fetch: net.fetch, watch: false },
    );
    const started = await startService(
      {},
      { policies: staticPolicySource(compilePolicySet(parsed.policies, {}, 1)), identity: verifier },
    );
    service = started.service;
    client = connect(started.addresses.grpc);
  });
  afterAll(async () => {
    client?.close();
    await service?.shutdown('test');
    verifier?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const token = (groups: string[]) =>
    idp.sign({ sub: 'alice', aud: 'orders', groups }, { now: Date.now(), ttlSeconds: 600 });

  async function check(
    path: string,
    opts: { method?: string; cert?: Issued; groups?: string[] } = {},
  ): Promise<WireCheckResponse> {
    const method = opts.method ?? 'GET';
    const cert = opts.cert ?? frontend;
    const bearer = opts.groups ? await token(opts.groups) : undefined;
    const req: WireCheckRequest = {
      attributes: {
        source: {
          address: { socketAddress: { address: '10.0.0.1', portValue: 40000 } },
          certificate: envoyEncode(cert.pem),
        },
        destination: { address: { socketAddress: { address: '10.0.0.2', portValue: 8080 } } },
        request: {
          time: { seconds: Math.floor(Date.now() / 1000), nanos: 0 },
          http: {
            id: '1',
            method,
            path,
            host: 'orders.shop',
            scheme: 'http',
            protocol: 'HTTP/1.1',
            headers: {
              ':method': method,
              ':path': path,
              ':authority': 'orders.shop',
              ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
            },
          },
        },
        // What envoy/envoy.yaml sends per route: the workload the policy's selector matches.
        contextExtensions: { namespace: 'shop', app: 'orders' },
      },
    };
    return client.check(req);
  }
  const code = (res: WireCheckResponse) => res.status?.code ?? 0;

  it('allows shop/frontend, GET /orders/{*}, with a token in group buyers', async () => {
    const res = await check('/orders/42', { groups: ['buyers'] });
    expect(code(res)).toBe(0);
    expect(res.okResponse).toBeDefined();
  });

  it('denies without the group: the claims condition does not match (403)', async () => {
    const res = await check('/orders/42', { groups: ['visitors'] });
    expect(code(res)).toBe(7);
    expect(res.deniedResponse?.status?.code).toBe(403);
    // No token at all: no claims, so the rule cannot match.
    expect(code(await check('/orders/42'))).toBe(7);
  });

  it('denies another workload (its SVID is not shop/frontend) even with the right group', async () => {
    expect(code(await check('/orders/42', { cert: intruder, groups: ['buyers'] }))).toBe(7);
  });

  it('denies another method and paths outside the template, including a traversal', async () => {
    expect(code(await check('/orders/42', { groups: ['buyers'], method: 'DELETE' }))).toBe(7);
    expect(code(await check('/orders/42/items', { groups: ['buyers'] }))).toBe(7);
    // Normalized to /admin before matching, which the template does not cover.
    expect(code(await check('/orders/42/../../admin', { groups: ['buyers'] }))).toBe(7);
  });
});
