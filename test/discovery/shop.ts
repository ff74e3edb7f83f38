import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOOP_SPAN } from '../../src/authz/seams.js';
import { readFlowFiles } from '../../src/discovery/flows-file.js';
import type { PolicyEntry } from '../../src/discovery/policy-model.js';
import { FlowRecorder } from '../../src/discovery/recorder.js';
import type { KnownWorkload } from '../../src/discovery/report.js';
import type { FlowRecord } from '../../src/discovery/types.js';
import { type OutcomeSpec, outcome, peer } from './outcomes.js';

/**
 * The synthetic three-tier shop: ingress → web → api → db in namespace `shop`, a batch job in `jobs` that calls the
 * api, and a stray caller in `sandbox` that tries the database directly. Today's policy is namespace-coarse (shop
 * accepts shop, jobs and the ingress namespace), so the stray is denied and everything else is allowed.
 */

export const T0 = Date.UTC(2026, 5, 1);

export const ingress = peer('istio-system', 'istio-ingressgateway');
export const web = peer('shop', 'web');
export const api = peer('shop', 'api');
export const batch = peer('jobs', 'batch');
export const stray = peer('sandbox', 'stray');

export const workloads: KnownWorkload[] = [
  { namespace: 'shop', labels: { app: 'web' }, serviceAccount: 'web' },
  { namespace: 'shop', labels: { app: 'api' }, serviceAccount: 'api' },
  { namespace: 'shop', labels: { app: 'db' }, serviceAccount: 'db' },
  { namespace: 'jobs', labels: { app: 'batch' }, serviceAccount: 'batch' },
  { namespace: 'sandbox', labels: { app: 'stray' }, serviceAccount: 'stray' },
];

/** The traffic: [spec, times seen]. Paths carry ids, which must come out as templates. */
export const traffic: Array<[OutcomeSpec, number]> = [
  [{ from: ingress, ns: 'shop', app: 'web', path: '/', port: 8080 }, 50],
  [{ from: ingress, ns: 'shop', app: 'web', path: '/products/1001', port: 8080 }, 30],
  [{ from: ingress, ns: 'shop', app: 'web', path: '/products/2002?ref=home', port: 8080 }, 20],
  [{ from: web, ns: 'shop', app: 'api', path: '/api/products', port: 9090, groups: ['buyers'] }, 40],
  [{ from: web, ns: 'shop', app: 'api', path: '/api/products/1001', port: 9090 }, 25],
  [{ from: web, ns: 'shop', app: 'api', method: 'POST', path: '/api/orders', port: 9090 }, 10],
  [{ from: api, ns: 'shop', app: 'db', method: 'POST', path: '/query', port: 5432 }, 70],
  [{ from: batch, ns: 'shop', app: 'api', method: 'POST', path: '/internal/reindex', port: 9090 }, 3],
  [{ from: stray, ns: 'shop', app: 'db', method: 'POST', path: '/query', port: 5432, allowed: false }, 4],
];

export const LEGIT_FLOWS = 7; // distinct templates: '/', '/products/{*}', 3 api, 1 db, 1 batch
export const STRAY = 'sandbox/stray -> shop/db POST /query';

function allow(
  name: string,
  namespace: string,
  spec: PolicyEntry['policy']['spec'],
  dryRun = false,
  annotations = {},
): PolicyEntry {
  return {
    policy: {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name, namespace, annotations },
      spec,
    },
    source: { file: 'current.yaml', line: 1 },
    dryRun,
  };
}

/** Today's policies: coarse by namespace; plus a staged lockdown of the db in dry-run since January. */
export const currentPolicies: PolicyEntry[] = [
  allow('shop-namespaces', 'shop', {
    action: 'ALLOW',
    rules: [
      { from: [{ source: { namespaces: ['shop'] } }] },
      { from: [{ source: { namespaces: ['jobs'] } }] },
      { from: [{ source: { namespaces: ['istio-system'] } }] },
      // Never exercised: nothing from `monitoring` called.
      { from: [{ source: { namespaces: ['monitoring'] } }] },
    ],
  }),
  allow(
    'db-lockdown',
    'shop',
    {
      selector: { matchLabels: { app: 'db' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/api'] } }] }],
    },
    true,
    { 'istio.io/dry-run': 'true', 'mesh-authz.io/dry-run-since': '2026-01-15T00:00:00Z' },
  ),
];

/** Runs the traffic through a FlowRecorder (monitor mode), flushes it in two windows, and reads it back. */
export async function recordShop(): Promise<{ file: string; flows: FlowRecord[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'shop-'));
  const file = join(dir, 'flows.jsonl');
  const rec = new FlowRecorder(
    { enabled: true, maxFlows: 1000, flushIntervalSeconds: 3600, file, otlpLogs: false },
    { now: () => T0 },
  );
  let t = T0;
  for (const [i, [spec, n]] of traffic.entries()) {
    for (let k = 0; k < n; k++) {
      t += 1000;
      rec.onDecision(outcome({ ...spec, time: t }), NOOP_SPAN);
      // Half-way through, flush: the file then holds two windows that must add up.
      if (i === 4 && k === 0) await rec.flush();
    }
  }
  await rec.close();
  const { flows } = await readFlowFiles([file]);
  return { file, flows };
}
