import { describe, expect, it } from 'vitest';
import { DENY_ADMIN, outcome } from '../../test/telemetry/fixtures.js';
import type { CheckOutcome } from '../authz/outcome.js';
import { DenyLimiter, SWEEP_MS } from './deny-limiter.js';

/** A frozen clock (ms) the test moves by hand. */
function clock() {
  const c = { now: 0 };
  return { c, now: () => c.now };
}

const noAllow = (id: string): CheckOutcome => outcome({ decisionId: id });
const denyAdmin = (id: string): CheckOutcome =>
  outcome({
    decisionId: id,
    reasonCode: 'deny_matched',
    decision: {
      allowed: false,
      code: 'deny_matched',
      reason: 'DENY policy shop/deny-admin rule 0 matched',
      policy: DENY_ADMIN,
      ruleIndex: 0,
      shadow: [],
      audit: [],
    },
  });

describe('DenyLimiter', () => {
  it('admits a burst, suppresses the rest, and the next admitted record carries count and id range', () => {
    const { c, now } = clock();
    let suppressed = 0;
    const limiter = new DenyLimiter({ perSecond: 2, burst: 3 }, () => suppressed++, now);
    const verdicts = Array.from({ length: 10 }, (_, i) => limiter.verdict(noAllow(`id-${String(i).padStart(2, '0')}`)));
    expect(verdicts.slice(0, 3)).toEqual([null, null, null]);
    expect(verdicts.slice(3).every((v) => v === false)).toBe(true);
    expect(suppressed).toBe(7);
    c.now += 500; // one token back at 2/s
    expect(limiter.verdict(noAllow('id-10'))).toEqual({
      count: 7,
      first_decision_id: 'id-03',
      last_decision_id: 'id-09',
    });
    // Carried once: the next admitted record has nothing to carry.
    c.now += 500;
    expect(limiter.verdict(noAllow('id-11'))).toBeNull();
  });

  it('keeps one bucket per (policy, reason): a flood of one does not silence another', () => {
    const { now } = clock();
    const limiter = new DenyLimiter({ perSecond: 1, burst: 1 }, () => {}, now);
    expect(limiter.verdict(noAllow('a1'))).toBeNull();
    expect(limiter.verdict(noAllow('a2'))).toBe(false);
    expect(limiter.verdict(denyAdmin('b1'))).toBeNull();
    expect(limiter.verdict(denyAdmin('b2'))).toBe(false);
    // Same policy, another reason: its own bucket.
    expect(limiter.verdict({ ...denyAdmin('c1'), reasonCode: 'jwt_expired' })).toBeNull();
  });

  it('answers the same for the same outcome (span and log line agree), and admits all when off', () => {
    const { now } = clock();
    const limiter = new DenyLimiter({ perSecond: 1, burst: 1 }, () => {}, now);
    const first = noAllow('x1');
    expect(limiter.verdict(first)).toBeNull();
    expect(limiter.verdict(first)).toBeNull();
    const second = noAllow('x2');
    expect(limiter.verdict(second)).toBe(false);
    expect(limiter.verdict(second)).toBe(false);
    const off = new DenyLimiter({ perSecond: 0, burst: 1 }, () => {}, now);
    for (let i = 0; i < 100; i++) expect(off.verdict(noAllow(`o${i}`))).toBeNull();
  });

  it('reports suppressions no record carried once they are SWEEP_MS old, once', () => {
    const { c, now } = clock();
    const limiter = new DenyLimiter({ perSecond: 1, burst: 1 }, () => {}, now);
    limiter.verdict(denyAdmin('d1'));
    limiter.verdict(denyAdmin('d2'));
    limiter.verdict(denyAdmin('d3'));
    expect(limiter.sweep()).toEqual([]);
    c.now += SWEEP_MS;
    expect(limiter.sweep()).toEqual([
      {
        policy: 'shop/deny-admin',
        reason_code: 'deny_matched',
        count: 2,
        first_decision_id: 'd2',
        last_decision_id: 'd3',
      },
    ]);
    expect(limiter.sweep(true)).toEqual([]);
    // Reported by the sweep: the next admitted record does not carry them again.
    expect(limiter.verdict(denyAdmin('d4'))).toBeNull();
  });
});
