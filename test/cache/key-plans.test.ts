import { describe, expect, it } from 'vitest';
import { LruDecisionCache } from '../../src/authz/cache.js';
import type { WorkloadRef } from '../../src/policy/types.js';
import { policy, policySet, req } from '../conformance/policy-fixtures.js';

/**
 * The decision cache with the real policy engine: the key plan is built by the policy set with each workload's
 * plan (`keyPlanFor`), and the cache only reads it. Workloads decided by the same plan share cached decisions;
 * workloads decided by different plans never do.
 */

const YAML =
  policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        paths: ["/httpbin"]', { name: 'httpbin' }) +
  policy('DENY', '  rules:\n  - to:\n    - operation:\n        paths: ["/admin"]', {
    name: 'deny-admin',
    selector: false,
  });

const HTTPBIN_V1: WorkloadRef = { namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } };
const HTTPBIN_V2: WorkloadRef = { namespace: 'foo', labels: { app: 'httpbin', version: 'v2' } };
const OTHER: WorkloadRef = { namespace: 'foo', labels: { app: 'other' } };
const ELSEWHERE: WorkloadRef = { namespace: 'bar', labels: { app: 'httpbin' } };

const cacheAt = () => new LruDecisionCache({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000, now: () => 0 });

describe('key plans built with the policy plans', () => {
  it('are built once per plan: every ask returns the same object, and workloads of one plan share it', () => {
    const set = policySet(YAML);
    const plan = set.keyPlanFor(HTTPBIN_V1);
    expect(set.keyPlanFor(HTTPBIN_V1)).toBe(plan);
    // `version` is read by no selector: v1 and v2 are decided by the same plan.
    expect(set.keyPlanFor(HTTPBIN_V2)).toBe(plan);
    expect(plan.use.path).toBe(true);
    expect(plan.prefix.startsWith('1|')).toBe(true);
  });

  it('differ between plans (other selector result, other namespace) and between generations', () => {
    const set = policySet(YAML);
    const prefixes = [HTTPBIN_V1, OTHER, ELSEWHERE].map((w) => set.keyPlanFor(w).prefix);
    expect(new Set(prefixes).size).toBe(3);
    const next = policySet(YAML, {}, 2);
    expect(next.keyPlanFor(HTTPBIN_V1).prefix).not.toBe(set.keyPlanFor(HTTPBIN_V1).prefix);
  });

  it('let workloads of one plan share a cached decision (must match)', () => {
    const set = policySet(YAML);
    const cache = cacheAt();
    const first = cache.decide(set, HTTPBIN_V1, req({ path: '/httpbin' }));
    const second = cache.decide(set, HTTPBIN_V2, req({ path: '/httpbin' }));
    expect(first.hit).toBe(false);
    expect(second.hit).toBe(true);
    expect(second.decision).toBe(first.decision);
    expect(second.decision).toEqual(set.evaluate(HTTPBIN_V2, req({ path: '/httpbin' })));
  });

  it('never serve one plan’s decision to a workload of another plan (must not match)', () => {
    const set = policySet(YAML);
    const cache = cacheAt();
    expect(cache.decide(set, HTTPBIN_V1, req({ path: '/other' })).decision.allowed).toBe(false);
    // `other` has no ALLOW policy: allowed, and not the cached deny of httpbin's plan.
    const other = cache.decide(set, OTHER, req({ path: '/other' }));
    expect(other.hit).toBe(false);
    expect(other.decision).toMatchObject({ allowed: true, code: 'no_allow_policy' });
    const elsewhere = cache.decide(set, ELSEWHERE, req({ path: '/other' }));
    expect(elsewhere.hit).toBe(false);
    expect(elsewhere.decision.allowed).toBe(true);
  });
});
