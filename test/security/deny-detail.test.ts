import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckOutcome } from '../../src/authz/outcome.js';
import type { WireCheckResponse } from '../../src/authz/wire-types.js';
import { parseConfigText } from '../../src/config/load.js';
import { assembleParts } from '../../src/server/assemble.js';
import type { AuthzService } from '../../src/server/service.js';
import { type Clients, connect, httpCheck, startService } from '../support/harness.js';

/**
 * Issue 12 item 5: what a deny tells the caller. Envoy forwards a deny's headers and body downstream, so by
 * default they carry the decision id and a generic class only; the policy name, rule and file:line reach the
 * operator (decision observers: the log and the span) and never the caller. Real policy files, real gRPC.
 */

const POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: payments-secret-deny
  namespace: shop
spec:
  selector:
    matchLabels:
      app: orders
  action: DENY
  rules:
    - to:
        - operation:
            paths: ["/internal/*"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: orders-public-allow
  namespace: shop
spec:
  selector:
    matchLabels:
      app: orders
  action: ALLOW
  rules:
    - to:
        - operation:
            paths: ["/public/*"]
`;

/** Every string a caller can see in a CheckResponse: what Envoy forwards, and what it keeps. */
function callerVisible(res: WireCheckResponse): string {
  return JSON.stringify([res.status, res.deniedResponse, res.dynamicMetadata]);
}

async function start(dir: string, detail: string | undefined, seen: CheckOutcome[]) {
  const raw = { policy: { paths: ['policies'] }, ...(detail ? { response: { detail } } : {}) };
  const file = join(dir, 'config.yaml');
  const loaded = { config: parseConfigText(JSON.stringify(raw), file), file, dir };
  const parts = await assembleParts(loaded, { watch: false });
  return startService(raw, { ...parts, observers: [{ onDecision: (o) => seen.push(o) }] }, dir);
}

describe.each([
  { detail: undefined, leaksPolicy: false, leaksPath: false },
  { detail: 'minimal', leaksPolicy: false, leaksPath: false },
  { detail: 'policy', leaksPolicy: true, leaksPath: false },
  { detail: 'full', leaksPolicy: true, leaksPath: true },
])('response.detail = $detail', ({ detail, leaksPolicy, leaksPath }) => {
  let dir: string;
  let service: AuthzService;
  let client: Clients;
  const seen: CheckOutcome[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'deny-detail-'));
    const policies = join(dir, 'policies');
    mkdirSync(policies);
    writeFileSync(join(policies, 'payments.yaml'), POLICY);
    const started = await start(dir, detail, seen);
    service = started.service;
    client = connect(started.addresses.grpc);
  });
  afterAll(async () => {
    client.close();
    await service.shutdown('test');
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [what, path] of [
    ['an explicit DENY policy', '/internal/keys'],
    ['no ALLOW rule matching', '/secret'],
  ] as const) {
    it(`${what}: the caller sees ${leaksPath ? 'the full reason' : 'no file path'}; the operator sees it all`, async () => {
      seen.length = 0;
      const res = await client.check(httpCheck(path));
      expect(res.deniedResponse?.status.code).toBe(403);
      const reason = res.deniedResponse?.headers?.find((h) => h.header.key === 'x-mesh-authz-reason')?.header.value;
      const id = res.deniedResponse?.headers?.find((h) => h.header.key === 'x-mesh-authz-decision-id')?.header.value;
      expect(id).toMatch(/\S/);
      expect(res.deniedResponse?.body).toContain(`(decision ${id})`);
      const visible = callerVisible(res);
      if (detail === undefined || detail === 'minimal') {
        expect(reason).toBe('denied');
        expect(res.status.message).toBe('denied');
        expect(res.deniedResponse?.body).toBe(`Forbidden: denied (decision ${id})\n`);
      } else if (detail === 'policy') expect(reason).toMatch(/^denied: [A-Za-z_]+/);
      else expect(reason).toBe(seen[0]?.reason.replace(/[^\x20-\x7e]/g, '?').slice(0, 256));
      // Never the file path unless `full`; never a policy name at `minimal`.
      expect(visible.includes('payments.yaml')).toBe(leaksPath && what === 'an explicit DENY policy');
      expect(visible.includes(dir)).toBe(leaksPath && what === 'an explicit DENY policy');
      if (!leaksPolicy) {
        expect(visible).not.toContain('payments-secret-deny');
        expect(visible).not.toContain('orders-public-allow');
        expect(visible).not.toMatch(/rule/i);
      }
      // The operator's record (decision log, span) keeps the whole reason and the same id.
      expect(seen).toHaveLength(1);
      expect(seen[0]!.decisionId).toBe(id);
      if (what === 'an explicit DENY policy') {
        expect(seen[0]!.reason).toContain('payments-secret-deny');
        expect(seen[0]!.reason).toContain('payments.yaml');
        if (leaksPolicy) expect(visible).toContain('shop/payments-secret-deny');
      }
    });
  }

  it('an allowed request is unchanged', async () => {
    const res = await client.check(httpCheck('/public/x'));
    expect(res.status?.code ?? 0).toBe(0);
  });
});
