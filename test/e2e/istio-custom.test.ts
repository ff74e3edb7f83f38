import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckOutcome } from '../../src/authz/outcome.js';
import type { WireCheckRequest, WireCheckResponse } from '../../src/authz/wire-types.js';
import { loadConfigFile } from '../../src/config/load.js';
import { assembleParts } from '../../src/server/assemble.js';
import { AuthzService } from '../../src/server/service.js';
import { toDecisionRecord } from '../../src/telemetry/record.js';
import { spanAttributes } from '../../src/telemetry/tracer.js';
import { type Clients, connect } from '../support/harness.js';
import { istioCustomCheck, SA } from './istio-custom-fixtures.js';

/**
 * Istio `CUSTOM` requests (no context_extensions, no destination labels) end to end over gRPC on loopback, against
 * the real server assembled from a config file, as `serve` does: with a workload registry (`policy.workloads` with
 * addresses) the label-selected policies apply; without one, a request whose labels could matter is denied
 * `workload_unresolved`, and one whose namespace has no selector is decided at namespace level.
 */

const POLICIES = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: orders-allow-frontend, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: [cluster.local/ns/shop/sa/frontend] } }]
      to: [{ operation: { methods: [GET], paths: ["/orders/*"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: orders-deny-debug, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: DENY
  rules:
    - to: [{ operation: { paths: ["/debug/*"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-reads, namespace: blog }
spec:
  action: ALLOW
  rules:
    - to: [{ operation: { methods: [GET] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: gateway-public, namespace: istio-ingress }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  action: ALLOW
  rules:
    - to: [{ operation: { paths: ["/public/*"] } }]
`;

const WORKLOADS = `
    - { name: orders-7d9f, namespace: shop, labels: { app: orders, version: v1 }, serviceAccount: orders, addresses: [10.8.1.15] }
    - { name: frontend-5c4b, namespace: shop, labels: { app: frontend }, serviceAccount: frontend, addresses: [10.8.1.20] }
    - { name: shared-a, namespace: shop, labels: { app: a }, serviceAccount: shared, addresses: [10.8.1.30] }
    - { name: shared-b, namespace: shop, labels: { app: b }, serviceAccount: shared, addresses: [10.8.1.31] }
    - name: ingressgateway-6f8d
      namespace: istio-ingress
      labels: { istio: ingressgateway, app: istio-ingressgateway }
      serviceAccount: istio-ingressgateway
      addresses: [10.8.0.5]
`;

interface Running {
  service: AuthzService;
  clients: Clients;
  outcomes: CheckOutcome[];
}

async function startFromConfig(dir: string, name: string, withRegistry: boolean): Promise<Running> {
  // The identity settings the project ships for Istio (istio/configmap.yaml): the sidecar verified mTLS.
  const config = `server: { listen: 127.0.0.1:0 }
admin: { enabled: false }
identity:
  peer: { sources: [principal], trustEnvoyPrincipal: true }
policy:
  paths: [policies]
  watch: false
  workloads:${withRegistry ? WORKLOADS : ' []'}
`;
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, config);
  const loaded = loadConfigFile(file);
  const parts = await assembleParts(loaded, { watch: false });
  const outcomes: CheckOutcome[] = [];
  const service = new AuthzService(loaded, { ...parts, observers: [{ onDecision: (o) => outcomes.push(o) }] });
  const addresses = await service.start();
  return { service, clients: connect(addresses.grpc), outcomes };
}

let dir: string;
let withRegistry: Running;
let withoutRegistry: Running;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'istio-custom-'));
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  writeFileSync(join(policies, 'policies.yaml'), POLICIES);
  [withRegistry, withoutRegistry] = await Promise.all([
    startFromConfig(dir, 'registry', true),
    startFromConfig(dir, 'plain', false),
  ]);
});

afterAll(async () => {
  for (const r of [withRegistry, withoutRegistry]) {
    r?.clients.close();
    await r?.service.shutdown();
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Sends one check; returns the response and the server's outcome for it (matched by x-request-id). */
async function check(r: Running, req: WireCheckRequest): Promise<{ res: WireCheckResponse; outcome: CheckOutcome }> {
  const res = await r.clients.check(req);
  const id = req.attributes?.request?.http?.headers?.['x-request-id'];
  const outcome = r.outcomes.find((o) => o.input?.requestId === id);
  if (!outcome) throw new Error(`no outcome observed for ${id}`);
  return { res, outcome };
}

const toOrders = (principal: string, path: string, ip = '10.8.1.15') =>
  istioCustomCheck({
    source: { ip: '10.8.1.20', principal },
    destination: { ip, port: 8080, principal: SA.orders },
    path,
    host: 'orders.shop.svc.cluster.local:8080',
  });

const toBlog = (method: string) =>
  istioCustomCheck({
    source: { ip: '10.8.1.20', principal: SA.frontend },
    destination: { ip: '10.8.2.40', port: 8080, principal: SA.blog },
    method,
    path: '/posts/1',
    host: 'blog.blog.svc.cluster.local',
  });

describe('Istio CUSTOM requests: with a workload registry (policy.workloads with addresses)', () => {
  it('resolves the destination by pod IP, so the label-selected ALLOW applies: frontend allowed, catalog denied', async () => {
    const ok = await check(withRegistry, toOrders(SA.frontend, '/orders/42'));
    expect(ok.res.status?.code).toBe(0);
    expect(ok.outcome.reasonCode).toBe('allow_matched');
    expect(ok.outcome.input).toMatchObject({
      workload: { namespace: 'shop', labels: { app: 'orders', version: 'v1' } },
      workloadResolution: 'registry_address',
      workloadName: 'orders-7d9f',
    });
    const denied = await check(withRegistry, toOrders(SA.catalog, '/orders/42'));
    expect(denied.res.status?.code).toBe(7);
    expect(denied.outcome).toMatchObject({ httpStatus: 403, reasonCode: 'no_allow_matched' });
    const debug = await check(withRegistry, toOrders(SA.frontend, '/debug/pprof'));
    expect(debug.outcome).toMatchObject({ allowed: false, reasonCode: 'deny_matched' });
  });

  it('puts the workload and how it was found on the decision log record and the span', async () => {
    const { outcome } = await check(withRegistry, toOrders(SA.catalog, '/orders/7'));
    expect(toDecisionRecord(outcome, '', '').workload).toEqual({
      namespace: 'shop',
      labels: { app: 'orders', version: 'v1' },
      resolution: 'registry_address',
      name: 'orders-7d9f',
    });
    expect(spanAttributes(outcome, '', '')).toMatchObject({
      'mesh_authz.workload.namespace': 'shop',
      'mesh_authz.workload.resolution': 'registry_address',
      'mesh_authz.workload.name': 'orders-7d9f',
    });
  });

  it('falls back to the destination principal when the IP is unknown and exactly one workload runs as it', async () => {
    const { outcome } = await check(withRegistry, toOrders(SA.frontend, '/orders/42', '10.8.9.99'));
    expect(outcome).toMatchObject({ allowed: true, input: { workloadResolution: 'registry_principal' } });
  });

  it('denies workload_unresolved when the principal matches several workloads with different labels', async () => {
    const req = istioCustomCheck({
      source: { ip: '10.8.1.20', principal: SA.frontend },
      destination: { ip: '10.8.9.98', port: 8080, principal: SA.shared },
      path: '/orders/42',
      host: 'shared.shop',
    });
    const { res, outcome } = await check(withRegistry, req);
    expect(res.status?.code).toBe(7);
    expect(outcome).toMatchObject({ httpStatus: 403, reasonCode: 'workload_unresolved' });
  });

  it('ignores a registry IP entry that contradicts the destination principal (a reused pod IP)', async () => {
    // 10.8.1.15 is shop/orders in the registry, but the destination proves it is blog/web: blog has no selector,
    // so the blog namespace decides (GET allowed), and shop's orders policies are not applied to it.
    const req = istioCustomCheck({
      source: { ip: '10.8.1.20', principal: SA.frontend },
      destination: { ip: '10.8.1.15', port: 8080, principal: SA.blog },
      method: 'POST',
      path: '/posts',
      host: 'blog.blog',
    });
    const { outcome } = await check(withRegistry, req);
    expect(outcome).toMatchObject({
      allowed: false,
      reasonCode: 'no_allow_matched',
      input: { workload: { namespace: 'blog', labels: {} }, workloadResolution: 'namespace_only' },
    });
  });

  it('resolves an ingress gateway by its pod IP (edge request: no client principal)', async () => {
    const edge = (path: string) =>
      istioCustomCheck({
        source: { ip: '203.0.113.7', principal: '' },
        destination: { ip: '10.8.0.5', port: 8080, principal: SA.gateway },
        path,
        host: 'shop.example.com',
      });
    const pub = await check(withRegistry, edge('/public/index.html'));
    expect(pub.outcome).toMatchObject({ allowed: true, input: { workloadResolution: 'registry_address' } });
    const internal = await check(withRegistry, edge('/internal/metrics'));
    expect(internal.outcome).toMatchObject({ allowed: false, reasonCode: 'no_allow_matched' });
    const unresolved = await check(withoutRegistry, edge('/public/index.html'));
    expect(unresolved.outcome).toMatchObject({ allowed: false, reasonCode: 'workload_unresolved' });
  });
});

describe('Istio CUSTOM requests: without a registry', () => {
  it('denies 403 workload_unresolved when a selector in the namespace could apply (never evaluates empty labels)', async () => {
    // Before: {shop, {}} matched no selector, so catalog → orders was ALLOWED (no ALLOW policy selects it).
    for (const principal of [SA.catalog, SA.frontend]) {
      const { res, outcome } = await check(withoutRegistry, toOrders(principal, '/orders/42'));
      expect(res.status?.code).toBe(7);
      expect(res.deniedResponse?.status?.code).toBe(403);
      expect(outcome).toMatchObject({
        allowed: false,
        httpStatus: 403,
        phase: 'decision',
        reasonCode: 'workload_unresolved',
        decision: null,
        input: { workload: { namespace: 'shop' }, workloadResolution: 'namespace_only' },
      });
    }
  });

  it('decides at namespace level when no selector in the namespace or the root namespace could matter', async () => {
    for (const r of [withoutRegistry, withRegistry]) {
      const get = await check(r, toBlog('GET'));
      expect(get.outcome).toMatchObject({ allowed: true, reasonCode: 'allow_matched' });
      const post = await check(r, toBlog('POST'));
      expect(post.outcome).toMatchObject({ allowed: false, reasonCode: 'no_allow_matched' });
    }
  });

  it('denies workload_unresolved when the namespace is unknown too (no principal, unknown address)', async () => {
    for (const r of [withoutRegistry, withRegistry]) {
      const req = istioCustomCheck({
        source: { ip: '203.0.113.7', principal: '' },
        destination: { ip: '10.9.9.9', port: 8080, principal: '' },
        path: '/posts/1',
        host: 'blog.example.com',
      });
      const { res, outcome } = await check(r, req);
      expect(res.status?.code).toBe(7);
      expect(outcome).toMatchObject({ reasonCode: 'workload_unresolved', input: { workloadResolution: 'unresolved' } });
    }
  });

  it('still takes per-route context_extensions and destination.labels (plain Envoy sidecar) first', async () => {
    const ext = toOrders(SA.catalog, '/orders/42', '10.9.9.9');
    const viaExt: WireCheckRequest = {
      attributes: { ...ext.attributes, contextExtensions: { namespace: 'shop', app: 'orders' } },
    };
    const a = await check(withoutRegistry, viaExt);
    expect(a.outcome).toMatchObject({
      reasonCode: 'no_allow_matched',
      input: { workloadResolution: 'context_extensions' },
    });
    const lab = toOrders(SA.frontend, '/orders/42', '10.9.9.9');
    const viaLabels: WireCheckRequest = {
      attributes: {
        ...lab.attributes,
        destination: { ...lab.attributes?.destination, labels: { app: 'orders' } },
      },
    };
    const b = await check(withoutRegistry, viaLabels);
    expect(b.outcome).toMatchObject({ allowed: true, input: { workloadResolution: 'destination_labels' } });
  });
});
