import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand } from '../../src/cli/check.js';
import { explainCommand } from '../../src/cli/explain.js';
import { capture } from '../support/capture.js';
import { istioCustomCheck, SA } from './istio-custom-fixtures.js';

/** Offline `check` and `explain` resolve the destination workload as the server does: same registry, same rule. */

const POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: orders-allow-frontend, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: [cluster.local/ns/shop/sa/frontend] } }]
`;

let dir: string;
let request: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'workload-cmd-'));
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'orders.yaml'), POLICY);
  const identity = 'identity: { peer: { sources: [principal], trustEnvoyPrincipal: true } }\n';
  writeFileSync(
    join(dir, 'registry.yaml'),
    `${identity}policy:\n  paths: [policies]\n  workloads:\n    - { name: orders-1, namespace: shop, labels: { app: orders }, addresses: [10.8.1.15] }\n`,
  );
  writeFileSync(join(dir, 'plain.yaml'), `${identity}policy: { paths: [policies] }\n`);
  const req = istioCustomCheck({
    source: { ip: '10.8.1.20', principal: SA.frontend },
    destination: { ip: '10.8.1.15', port: 8080, principal: SA.orders },
    path: '/orders/1',
    host: 'orders.shop',
  });
  // Written as proto3 JSON; request.time is left out (Envoy's stream start is informational here).
  const { time: _time, ...rest } = req.attributes!.request!;
  request = join(dir, 'custom.json');
  writeFileSync(request, JSON.stringify({ attributes: { ...req.attributes, request: rest } }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('offline commands on an Istio CUSTOM request', () => {
  it('check: resolved by the registry and allowed; without it, denied workload_unresolved', async () => {
    const withRegistry = await capture(() =>
      checkCommand.run(['--config', join(dir, 'registry.yaml'), '--request', request]),
    );
    expect(JSON.parse(withRegistry.out)).toMatchObject({
      allowed: true,
      workloadResolution: 'registry_address',
      workloadName: 'orders-1',
    });
    const plain = await capture(() => checkCommand.run(['--config', join(dir, 'plain.yaml'), '--request', request]));
    expect(JSON.parse(plain.out)).toMatchObject({
      allowed: false,
      httpStatus: 403,
      reasonCode: 'workload_unresolved',
      workloadResolution: 'namespace_only',
    });
  });

  it('explain: says how the workload was found, or why no rule was evaluated', async () => {
    const resolved = await capture(() =>
      explainCommand.run(['--config', join(dir, 'registry.yaml'), '--request', request]),
    );
    expect(resolved.out).toContain('workload found by: registry_address (orders-1)');
    const plain = await capture(() => explainCommand.run(['--config', join(dir, 'plain.yaml'), '--request', request]));
    expect(plain.out).toContain('workload: shop {} (namespace_only)');
    expect(plain.out).toContain('decision: workload_unresolved:');
    expect(plain.out).toContain('denied PERMISSION_DENIED (HTTP 403) before any policy is evaluated');
  });
});
