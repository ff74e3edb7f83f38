import { describe, expect, it } from 'vitest';
import type { Decision } from '../policy/types.js';
import { CheckResponseType, encodeCheckResponse } from '../server/codec.js';
import type { CheckOutcome } from './outcome.js';
import { nextDecisionId } from './pipeline.js';
import { buildResponse, callerReason, ResponseEncoder, reasonClass } from './response.js';

const policyDecision = (allowed: boolean, reason: string): Decision => ({
  allowed,
  code: allowed ? 'allow_matched' : 'deny_matched',
  reason,
  policy: {
    namespace: 'shop',
    name: allowed ? 'orders-allow' : 'deny-admin',
    action: allowed ? 'ALLOW' : 'DENY',
    source: null,
  },
  ruleIndex: 0,
  shadow: [],
  audit: [],
});

function outcome(over: Partial<CheckOutcome>): CheckOutcome {
  return {
    decisionId: nextDecisionId(),
    allowed: true,
    status: 'OK',
    httpStatus: 200,
    phase: 'decision',
    reasonCode: 'allow_matched',
    reason: 'allowed by shop/orders-allow rule 0',
    decision: policyDecision(true, 'allowed by shop/orders-allow rule 0'),
    dryRun: false,
    input: null,
    peer: null,
    user: null,
    cacheHit: false,
    policyGeneration: 1,
    durationUs: 1,
    wwwAuthenticate: null,
    ...over,
  };
}

const SHAPES: Record<string, Partial<CheckOutcome>> = {
  allow: {},
  'deny by policy': {
    allowed: false,
    status: 'PERMISSION_DENIED',
    httpStatus: 403,
    reasonCode: 'deny_matched',
    reason: 'denied by shop/deny-admin rule 0',
    decision: policyDecision(false, 'denied by shop/deny-admin rule 0'),
  },
  'no allow matched (no policy)': {
    allowed: false,
    status: 'PERMISSION_DENIED',
    httpStatus: 403,
    reasonCode: 'no_allow_matched',
    reason: 'no ALLOW policy matched',
    decision: null,
  },
  'dry-run would-deny': {
    dryRun: true,
    reasonCode: 'deny_matched',
    reason: 'dry-run (would deny): denied by shop/deny-admin rule 0',
    decision: policyDecision(false, 'denied by shop/deny-admin rule 0'),
  },
  'unauthenticated with a challenge': {
    allowed: false,
    status: 'UNAUTHENTICATED',
    httpStatus: 401,
    phase: 'identity',
    reasonCode: 'jwt_expired',
    reason: 'the bearer token has expired',
    decision: null,
    wwwAuthenticate: 'Bearer error="invalid_token"',
  },
  'reason with non-ASCII text': {
    allowed: false,
    status: 'PERMISSION_DENIED',
    httpStatus: 403,
    reasonCode: 'invalid_request',
    reason: 'invalid CheckRequest: path /caf\u00e9\u0001 is odd',
    decision: null,
  },
};

describe('ResponseEncoder', () => {
  for (const [name, shape] of Object.entries(SHAPES)) {
    it(`gives the same bytes as buildResponse + protobuf encode, on every sighting: ${name}`, () => {
      const encoder = new ResponseEncoder(encodeCheckResponse);
      for (let i = 0; i < 5; i++) {
        const o = outcome(shape);
        const fast = encoder.encode(o);
        expect(Buffer.compare(fast, encodeCheckResponse(buildResponse(o)))).toBe(0);
        // And Envoy would read our id back out of it (metadata, and header + body on denies).
        const decoded = CheckResponseType.toObject(CheckResponseType.decode(fast)) as {
          dynamicMetadata: { fields: { decision_id: { stringValue: string } } };
        };
        expect(decoded.dynamicMetadata.fields.decision_id.stringValue).toBe(o.decisionId);
        if (!o.allowed) expect(fast.toString('latin1').split(o.decisionId).length - 1).toBe(3);
      }
      // Policy decisions are remembered; identity failures (reasons may quote the caller) are not.
      expect(encoder.size).toBe(outcome(shape).phase === 'decision' ? 1 : 0);
    });
  }

  it('never lets one request see another request’s id, however the calls interleave', () => {
    const encoder = new ResponseEncoder(encodeCheckResponse);
    const outcomes = Array.from({ length: 50 }, (_, i) => outcome(i % 2 ? SHAPES['deny by policy']! : {}));
    const bytes = outcomes.map((o) => encoder.encode(o));
    outcomes.forEach((o, i) => {
      expect(bytes[i]!.includes(o.decisionId)).toBe(true);
      for (const other of outcomes) if (other !== o) expect(bytes[i]!.includes(other.decisionId)).toBe(false);
    });
  });

  it('tells one Decision enforced from the same Decision in dry-run', () => {
    const encoder = new ResponseEncoder(encodeCheckResponse);
    const decision = policyDecision(false, 'denied by shop/deny-admin rule 0');
    const enforced = { ...SHAPES['deny by policy']!, decision };
    const dryRun = { ...SHAPES['dry-run would-deny']!, decision };
    for (let i = 0; i < 4; i++) {
      for (const o of [outcome(enforced), outcome(dryRun)]) {
        expect(Buffer.compare(encoder.encode(o), encodeCheckResponse(buildResponse(o)))).toBe(0);
      }
    }
  });

  it('falls back to the plain encoder for an id of another length', () => {
    const encoder = new ResponseEncoder(encodeCheckResponse);
    for (let i = 0; i < 3; i++) encoder.encode(outcome({}));
    const odd = outcome({ decisionId: 'short-id' });
    expect(Buffer.compare(encoder.encode(odd), encodeCheckResponse(buildResponse(odd)))).toBe(0);
  });

  it('keeps its memory bounded when reasons vary per request', () => {
    const encoder = new ResponseEncoder(encodeCheckResponse);
    for (let i = 0; i < 10_000; i++) {
      const o = outcome({ ...SHAPES['no allow matched (no policy)'], reason: `no ALLOW policy matched /p/${i}` });
      expect(Buffer.compare(encoder.encode(o), encodeCheckResponse(buildResponse(o)))).toBe(0);
    }
    expect(encoder.size).toBeLessThanOrEqual(4096);
  });
});

describe('what a deny tells the caller (response.detail)', () => {
  const deny = outcome(SHAPES['deny by policy']!);
  const unauthenticated = outcome({
    allowed: false,
    status: 'UNAUTHENTICATED',
    httpStatus: 401,
    phase: 'identity',
    reasonCode: 'jwt_expired',
    reason: 'the token expired at 2026-01-01T00:00:00Z',
    decision: null,
  });
  const unavailable = outcome({
    allowed: false,
    status: 'UNAVAILABLE',
    httpStatus: 403,
    phase: 'internal',
    reasonCode: 'not_ready',
    reason: 'no policy set has loaded yet',
    decision: null,
  });

  it('classes: denied, unauthenticated, unavailable', () => {
    expect(reasonClass(deny)).toBe('denied');
    expect(reasonClass(unauthenticated)).toBe('unauthenticated');
    expect(reasonClass(unavailable)).toBe('unavailable');
  });

  it('minimal (the default) sends the class only: no policy name in headers, body, status or metadata', () => {
    for (const o of [deny, unauthenticated, unavailable]) {
      const res = buildResponse(o);
      const text = JSON.stringify(res);
      expect(res.status.message).toBe(reasonClass(o));
      expect(text).not.toContain('deny-admin');
      expect(text).not.toContain('rule 0');
      expect(text).not.toContain('expired at');
    }
  });

  it('policy adds the reason code and the policy name; full the whole reason', () => {
    expect(callerReason(deny, 'policy')).toBe('denied: deny_matched (shop/deny-admin)');
    expect(callerReason(unauthenticated, 'policy')).toBe('unauthenticated: jwt_expired');
    expect(callerReason(deny, 'full')).toBe('denied by shop/deny-admin rule 0');
    expect(JSON.stringify(buildResponse(deny, 'policy'))).toContain('shop/deny-admin');
  });

  it('the fast encoder gives the same bytes as buildResponse at each level', () => {
    for (const detail of ['minimal', 'policy', 'full'] as const) {
      const encoder = new ResponseEncoder(encodeCheckResponse, detail);
      for (let i = 0; i < 3; i++) {
        const o = outcome(SHAPES['deny by policy']!);
        expect(Buffer.compare(encoder.encode(o), encodeCheckResponse(buildResponse(o, detail)))).toBe(0);
      }
    }
  });
});
