/**
 * End to end over gRPC: the real service (in process, loopback, ephemeral port), the real policy engine and the
 * real identity verifier. The CheckRequests carry what Envoy would send: the peer leaf in `source.certificate`
 * (include_peer_certificate) and the end user's bearer token in the headers. Policies on `source.principal` and on
 * `request.auth.claims[groups]` must decide correctly; invalid credentials must answer UNAUTHENTICATED (401).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticPolicySource } from '../../src/authz/seams.js';
import type { WireCheckRequest, WireCheckResponse } from '../../src/authz/wire-types.js';
import { compilePolicySet, parsePolicyText } from '../../src/policy/index.js';
import type { AuthzService } from '../../src/server/service.js';
import { createIdentityVerifier, type ManagedIdentityVerifier } from '../../src/sources/identity.js';
import { type Clients, connect, startService } from '../support/harness.js';
import { fakeFetch, identityConfig } from '../support/identity-config.js';
import { createCa, createSvid, createTokenIssuer, envoyEncode, type Issued, type TokenIssuer } from '../support/pki.js';

const POLICY = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: orders
  namespace: shop
spec:
  selector:
    matchLabels:
      app: orders
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/frontend"]
    to:
    - operation:
        paths: ["/orders", "/orders/*"]
  - from:
    - source:
        requestPrincipals: ["https://idp.example.com/*"]
    to:
    - operation:
        paths: ["/admin/*"]
    when:
    - key: request.auth.claims[groups]
      values: ["admins"]
`;

const IDP = 'https://idp.example.com';
const JWKS = 'https://idp.example.com/jwks';

let root: Issued;
let frontend: Issued;
let intruder: Issued;
let expired: Issued;
let idp: TokenIssuer;
let verifier: ManagedIdentityVerifier;
let service: AuthzService;
let client: Clients;

function request(path: string, opts: { cert?: Issued; token?: string } = {}): WireCheckRequest {
  const now = Date.now();
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: '10.0.0.1', portValue: 40000 } },
        ...(opts.cert ? { certificate: envoyEncode(opts.cert.pem) } : {}),
      },
      destination: { address: { socketAddress: { address: '10.0.0.2', portValue: 8080 } } },
      request: {
        time: { seconds: Math.floor(now / 1000), nanos: 0 },
        http: {
          id: '1',
          method: 'GET',
          path,
          host: 'orders.shop',
          scheme: 'http',
          protocol: 'HTTP/1.1',
          headers: {
            ':method': 'GET',
            ':path': path,
            ':authority': 'orders.shop',
            ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          },
        },
      },
      contextExtensions: { namespace: 'shop', app: 'orders' },
    },
  };
}

const code = (res: WireCheckResponse) => res.status?.code ?? 0;
const httpStatus = (res: WireCheckResponse) => res.deniedResponse?.status?.code;
const header = (res: WireCheckResponse, name: string) =>
  res.deniedResponse?.headers?.find((h) => h.header?.key?.toLowerCase() === name)?.header?.value;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'identity-e2e-'));
  root = await createCa({ trustDomain: 'cluster.local' });
  const now = Date.now();
  frontend = await createSvid(root, 'spiffe://cluster.local/ns/shop/sa/frontend', {
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 3600_000),
  });
  intruder = await createSvid(root, 'spiffe://cluster.local/ns/other/sa/intruder', {
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 3600_000),
  });
  expired = await createSvid(root, 'spiffe://cluster.local/ns/shop/sa/frontend', {
    notBefore: new Date(now - 7200_000),
    notAfter: new Date(now - 3600_000),
  });
  await writeFile(join(dir, 'root.pem'), root.pem);
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
  const parsed = parsePolicyText(POLICY, 'orders.yaml');
  expect(parsed.issues.filter((i) => i.severity === 'error')).toEqual([]);
  const policies = compilePolicySet(parsed.policies, {}, 1);
  const started = await startService({}, { policies: staticPolicySource(policies), identity: verifier });
  service = started.service;
  client = connect(started.addresses.grpc);
});

afterAll(async () => {
  client?.close();
  await service?.shutdown('test');
  verifier?.close();
});

const token = (groups: string[], aud = 'orders') =>
  idp.sign({ sub: 'alice', aud, groups }, { now: Date.now(), ttlSeconds: 600 });

describe('source.principal from a verified X.509-SVID', () => {
  it('allows the frontend workload on /orders', async () => {
    expect(code(await client.check(request('/orders/42', { cert: frontend })))).toBe(0);
  });

  it('denies another workload (403)', async () => {
    const res = await client.check(request('/orders/42', { cert: intruder }));
    expect(code(res)).toBe(7);
    expect(httpStatus(res)).toBe(403);
  });

  it('denies an anonymous caller (no certificate) by default-deny', async () => {
    expect(code(await client.check(request('/orders/42')))).toBe(7);
  });

  it('answers 401 for an expired certificate, with the reason', async () => {
    const res = await client.check(request('/orders/42', { cert: expired }));
    expect(code(res)).toBe(16);
    expect(httpStatus(res)).toBe(401);
    expect(JSON.stringify(res)).toContain('svid_expired');
  });
});

describe('request.auth.claims[groups] from a verified JWT', () => {
  it('allows an admin on /admin', async () => {
    expect(code(await client.check(request('/admin/users', { token: await token(['admins']) })))).toBe(0);
  });

  it('denies a non-admin (403)', async () => {
    expect(code(await client.check(request('/admin/users', { token: await token(['dev']) })))).toBe(7);
  });

  it('answers 401 with WWW-Authenticate for a token of another audience', async () => {
    const res = await client.check(request('/admin/users', { token: await token(['admins'], 'billing') }));
    expect(code(res)).toBe(16);
    expect(httpStatus(res)).toBe(401);
    expect(header(res, 'www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  });
});
