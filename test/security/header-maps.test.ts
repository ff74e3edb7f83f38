import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticPolicySource } from '../../src/authz/seams.js';
import type { WireCheckRequest, WireCheckResponse } from '../../src/authz/wire-types.js';
import { compilePolicySet, parsePolicyText } from '../../src/policy/index.js';
import type { AuthzService } from '../../src/server/service.js';
import { type Clients, connect, httpCheck, startService } from '../support/harness.js';

/**
 * Issue 12 item 6, over real gRPC: header lookups see only the request's headers (never `Object.prototype`
 * members), and a CheckRequest carrying both `headers` and `header_map` is denied as ambiguous (Envoy sends one
 * or the other: `header_map` with `encode_raw_headers`, see Envoy's ext_authz docs / attribute_context.proto).
 */

/** Lowercase (header names are): `constructor` and `__proto__` are the Object.prototype members that collide. */
const NAMES = ['constructor', '__proto__', 'tostring', 'hasownproperty', 'valueof'];

const POLICY = NAMES.map(
  (name) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: needs-${name.replace(/_/g, '')}, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: ALLOW
  rules:
  - to: [{ operation: { paths: ["/needs/${name}"] } }]
    when: [{ key: "request.headers[${name}]", values: ["*"] }]
`,
).join('---\n');

function reasonOf(res: WireCheckResponse): string {
  return res.deniedResponse?.headers?.find((h) => h.header.key === 'x-mesh-authz-reason')?.header.value ?? '';
}

describe('header maps', () => {
  let service: AuthzService;
  let client: Clients;

  beforeAll(async () => {
    const parsed = parsePolicyText(POLICY, 'needs.yaml');
    expect(parsed.issues.filter((i) => i.severity === 'error')).toEqual([]);
    const started = await startService(
      { response: { detail: 'full' } },
      { policies: staticPolicySource(compilePolicySet(parsed.policies, {}, 1)) },
    );
    service = started.service;
    client = connect(started.addresses.grpc);
  });
  afterAll(async () => {
    client.close();
    await service.shutdown('test');
  });

  for (const name of NAMES) {
    it(`request.headers[${name}] matches only a request that sends it`, async () => {
      const without = await client.check(httpCheck(`/needs/${name}`));
      expect(without.status.code).toBe(7);
      // protobufjs drops a `__proto__` key of a map<string,string> (the header_map case below covers it).
      if (name === '__proto__') return;
      const withIt = await client.check(httpCheck(`/needs/${name}`, { headers: { [name]: 'yes' } }));
      expect(withIt.status?.code ?? 0).toBe(0);
    });
  }

  for (const name of ['constructor', '__proto__']) {
    it(`the same through header_map (encode_raw_headers): ${name}`, async () => {
      const req = (extra: { key: string; value: string }[]): WireCheckRequest => {
        const r = httpCheck(`/needs/${name}`);
        r.attributes!.request!.http!.headers = {};
        r.attributes!.request!.http!.headerMap = {
          headers: [{ key: ':method', value: 'GET' }, { key: ':path', value: `/needs/${name}` }, ...extra],
        };
        return r;
      };
      expect((await client.check(req([]))).status.code).toBe(7);
      expect((await client.check(req([{ key: name.toUpperCase(), value: 'yes' }]))).status?.code ?? 0).toBe(0);
    });
  }

  it('both headers and header_map: denied as ambiguous, whichever holds the header', async () => {
    for (const [plain, raw] of [
      [{ constructor: 'yes' }, [{ key: 'x-other', value: '1' }]],
      [{ 'x-other': '1' }, [{ key: 'constructor', value: 'yes' }]],
    ] as const) {
      const r = httpCheck('/needs/constructor', { headers: plain });
      r.attributes!.request!.http!.headerMap = { headers: [...raw] };
      const res = await client.check(r);
      expect(res.status.code).toBe(7);
      expect(reasonOf(res)).toMatch(/both headers and header_map are set/);
    }
  });
});
