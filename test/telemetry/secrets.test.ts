import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckPipeline } from '../../src/authz/pipeline.js';
import type { WireCheckRequest } from '../../src/authz/wire-types.js';
import { configSchema } from '../../src/config/schema.js';
import { createTelemetry, type Telemetry } from '../../src/telemetry/index.js';
import { checkRequest, LogSink, stubIdentity, tinyPolicySet } from './fixtures.js';
import { OtlpReceiver } from './otlp-receiver.js';

/**
 * Attack: a caller (or a compromised hop) stuffs credentials into every input a Check sees, with logging of every
 * decision and tracing of every span turned on. None of the credentials may reach a decision log line or an
 * exported span, in any encoding: the telemetry copies an allow-list of decision facts (record.ts) and never
 * reads headers, the query string, the peer certificate, the token or the user's claims.
 */

const S = {
  bearer: 'good-admin-SECRETBEARER1f0a',
  badBearer: 'bad-SECRETBADTOKEN77c2',
  cookie: 'session=SECRETCOOKIE9a1b',
  proxyAuth: 'Basic SECRETPROXYAUTH3d4e',
  apiKey: 'SECRETAPIKEY5f6a',
  xfcc: 'By=spiffe://cluster.local/ns/shop/sa/orders;Cert="-----BEGIN%20CERTIFICATE-----SECRETXFCCCERT8b9c"',
  certificate: '-----BEGIN%20CERTIFICATE-----%0ASECRETPEERCERT0d1e%0A-----END%20CERTIFICATE-----%0A',
  query: 'access_token=SECRETQUERYTOKEN2a3b',
  fragment: 'SECRETFRAGMENT6c7d',
  baggage: 'user.password=SECRETBAGGAGE4e5f',
  metadataJwt: 'eyJSECRETJWTAUTHN0a1b',
};

/** The markers to grep for: each secret's unique part. */
const MARKERS = Object.values(S).map((v) => /SECRET[A-Z0-9]+[0-9a-f]{4}/.exec(v)?.[0] ?? v);

function withSecrets(path: string, extra: Record<string, string> = {}): WireCheckRequest {
  const req = checkRequest({
    path: `${path}?${S.query}#${S.fragment}`,
    certificate: S.certificate,
    headers: {
      authorization: `Bearer ${S.bearer}`,
      cookie: S.cookie,
      'proxy-authorization': S.proxyAuth,
      'x-api-key': S.apiKey,
      'x-forwarded-client-cert': S.xfcc,
      baggage: S.baggage,
      ...extra,
    },
  });
  req.attributes!.metadataContext = {
    filterMetadata: { 'envoy.filters.http.jwt_authn': { fields: { token: { stringValue: S.metadataJwt } } } },
  };
  return req;
}

describe('attack: secrets in every input never reach logs or spans', () => {
  let receiver: OtlpReceiver;
  let telemetry: Telemetry;
  const sink = new LogSink();
  const ids: string[] = [];

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    const config = configSchema.parse({
      telemetry: {
        log: { decisions: 'all', level: 'trace' },
        tracing: { enabled: true, endpoint: receiver.url, allowSampleRate: 1 },
      },
    }).telemetry;
    telemetry = await createTelemetry(config, { version: 'attack', logDestination: sink, env: {} });
    const pipeline = new CheckPipeline({
      policies: () => tinyPolicySet(),
      identity: stubIdentity,
      mode: 'enforce',
      tracer: telemetry.tracer,
      observers: [telemetry.observer],
    });
    const requests = [
      // Allowed (allow_matched) — the token is valid, so its claims are in the outcome: still never logged.
      withSecrets('/orders/17'),
      // Denied PERMISSION_DENIED by shop/deny-admin.
      withSecrets('/admin/keys'),
      // Denied UNAUTHENTICATED: the bearer token fails verification; the bad token must not be echoed.
      withSecrets('/orders/17', { authorization: `Bearer ${S.badBearer}` }),
      // Denied PERMISSION_DENIED as an invalid request (a header over the limit) — the input phase fails.
      withSecrets('/orders', { 'x-big': 'x'.repeat(70_000) }),
    ];
    for (const r of requests) ids.push((await pipeline.check(r)).decisionId);
    await telemetry.flush();
    await receiver.waitFor(requests.length);
  });

  afterAll(async () => {
    await telemetry.shutdown();
    await receiver.close();
  });

  it('logged and exported every decision (so the scan below looks at real output)', () => {
    expect(sink.decisions().map((l) => l.decision_id)).toEqual(ids);
    const spanIds = receiver.spans.map((s) => s.attributes['mesh_authz.decision_id']);
    for (const id of ids) expect(spanIds).toContain(id);
    const statuses = sink.decisions().map((l) => l.status);
    expect(statuses).toEqual(['OK', 'PERMISSION_DENIED', 'UNAUTHENTICATED', 'PERMISSION_DENIED']);
  });

  it('no secret appears in the decision log', () => {
    expect(sink.raw.length).toBeGreaterThan(0);
    for (const marker of MARKERS) expect(sink.raw, marker).not.toContain(marker);
  });

  it('no secret appears in the exported OTLP bytes or the decoded spans', () => {
    const raw = Buffer.concat(receiver.bodies).toString('latin1');
    const decoded = JSON.stringify(receiver.spans);
    expect(raw.length).toBeGreaterThan(0);
    for (const marker of MARKERS) {
      expect(raw, marker).not.toContain(marker);
      expect(decoded, marker).not.toContain(marker);
    }
  });

  it('keeps what an SRE needs: path without query, user subject and groups, principal', () => {
    const allowed = sink.decisions()[0]!;
    expect(allowed.path).toBe('/orders/17');
    expect(allowed.user_subject).toBe('alice');
    expect(allowed.user_groups).toEqual(['admins']);
    expect(allowed.source_principal).toBe('spiffe://cluster.local/ns/shop/sa/frontend');
  });

  it('the service logger redacts secret-bearing keys when a caller logs a request-shaped object', async () => {
    telemetry.logger.info({ headers: { authorization: `Bearer ${S.bearer}`, cookie: S.cookie } }, 'oops');
    await telemetry.flush();
    expect(sink.raw).toContain('"msg":"oops"');
    expect(sink.raw).not.toContain('SECRETBEARER1f0a');
    expect(sink.raw).not.toContain('SECRETCOOKIE9a1b');
  });
});
