import { describe, expect, it } from 'vitest';
import { ALLOW_ORDERS, checkRequest, outcome, SHADOW_STRICT } from '../../test/telemetry/fixtures.js';
import { toCheckInput } from '../authz/input.js';
import { isWouldDeny, toDecisionRecord } from './record.js';

describe('toDecisionRecord', () => {
  it('flattens a decision into the logged fields, path without query', () => {
    const input = toCheckInput(
      checkRequest({ path: '/orders/1?token=abc#frag', headers: { 'x-request-id': 'r-1', authorization: 'Bearer t' } }),
    );
    const r = toDecisionRecord(
      outcome({
        allowed: true,
        status: 'OK',
        httpStatus: 200,
        reasonCode: 'allow_matched',
        reason: 'ALLOW policy shop/orders-allow rule 2 matched',
        decision: {
          allowed: true,
          code: 'allow_matched',
          reason: 'x',
          policy: ALLOW_ORDERS,
          ruleIndex: 2,
          shadow: [{ policy: SHADOW_STRICT, ruleIndex: null, wouldAllow: false }],
          audit: [ALLOW_ORDERS],
        },
        input,
        cacheHit: true,
        durationUs: 12.6,
      }),
      'a'.repeat(32),
      'b'.repeat(16),
    );
    expect(r).toMatchObject({
      decision_id: 'd-1',
      trace_id: 'a'.repeat(32),
      span_id: 'b'.repeat(16),
      request_id: 'r-1',
      allowed: true,
      status: 'OK',
      policy: 'shop/orders-allow',
      policy_action: 'ALLOW',
      rule: 2,
      shadow: [{ policy: 'shop/strict-dry-run', rule: null, would_allow: false }],
      audit: ['shop/orders-allow'],
      workload: { namespace: 'shop', labels: { app: 'orders' } },
      method: 'GET',
      path: '/orders/1',
      source_ip: '10.0.0.7',
      cache_hit: true,
      duration_us: 13,
    });
    // Envoy's claimed principal is not a verified peer: it is not reported as the source principal.
    expect(r.source_principal).toBeNull();
    expect(JSON.stringify(r)).not.toContain('token=abc');
    expect(JSON.stringify(r)).not.toContain('Bearer');
  });

  it('logs the path as the policies matched it, under the configured normalization', () => {
    const at = (path: string, mode: 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES') =>
      toDecisionRecord(outcome({ input: toCheckInput(checkRequest({ path })) }), '', '', mode);
    // The classic bypass shapes: the line shows what the rules saw, not only what the client sent.
    expect(at('/a/../admin?x=1', 'BASE')).toMatchObject({ path: '/a/../admin', normalized_path: '/admin' });
    expect(at('//admin//users', 'MERGE_SLASHES').normalized_path).toBe('/admin/users');
    expect(at('/%61dmin', 'DECODE_AND_MERGE_SLASHES').normalized_path).toBe('/admin');
    expect(at('/%61dmin', 'NONE').normalized_path).toBe('/%61dmin');
    // A path the engine rejects has no normalized form.
    expect(at('/a%00b', 'BASE').normalized_path).toBeNull();
    // Spans do not carry it (no mode given).
    expect('normalized_path' in toDecisionRecord(outcome({}), '', '')).toBe(false);
  });

  it('handles an outcome decided before any input was read', () => {
    const r = toDecisionRecord(
      outcome({ phase: 'input', reasonCode: 'invalid_request', decision: null, input: null }),
      '',
      '',
    );
    expect(r).toMatchObject({ policy: null, rule: null, workload: null, path: null, shadow: [], audit: [] });
  });
});

describe('isWouldDeny', () => {
  it('is true for denies, global dry-run allows and dry-run policy would-denies; false for clean allows', () => {
    expect(isWouldDeny(outcome())).toBe(true);
    expect(isWouldDeny(outcome({ allowed: true, status: 'OK', dryRun: true }))).toBe(true);
    const allow = {
      allowed: true,
      code: 'allow_matched' as const,
      reason: '',
      policy: ALLOW_ORDERS,
      ruleIndex: 0,
      audit: [],
    };
    expect(isWouldDeny(outcome({ allowed: true, decision: { ...allow, shadow: [] } }))).toBe(false);
    const shadowDeny = [{ policy: SHADOW_STRICT, ruleIndex: null, wouldAllow: false }];
    expect(isWouldDeny(outcome({ allowed: true, decision: { ...allow, shadow: shadowDeny } }))).toBe(true);
  });
});
