import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LruDecisionCache } from '../../src/authz/cache.js';
import { compilePolicy, ruleMatches } from '../../src/policy/compile.js';
import {
  compilePolicySet,
  normalizePath,
  PATH_NORMALIZATIONS,
  resolveCompileOptions,
  validatePolicy,
} from '../../src/policy/index.js';
import type { RequestAttributes, WorkloadRef } from '../../src/policy/types.js';
import { BASE_REQUEST, WORKLOAD } from '../conformance/policy-fixtures.js';
import { propertyRuns } from '../support/property-runs.js';
import {
  CONDITION_KEYS,
  fromRuleArb,
  loaded,
  requestArb,
  ruleArb,
  toRuleArb,
  whenRuleOn,
} from './policy-arbitraries.js';

/** Invariants of the engine over random (valid) policies and requests. */

const RUNS = propertyRuns(200);

function pick(r: RequestAttributes, keys: readonly (keyof RequestAttributes)[]): Partial<RequestAttributes> {
  return Object.fromEntries(keys.map((k) => [k, r[k]]));
}

/** `other`'s headers, except that every header in `read` is exactly as in `from` (present with its value, or absent). */
function mixHeaders(
  read: readonly string[],
  from: Readonly<Record<string, string>>,
  other: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = { ...other };
  for (const name of read) {
    if (Object.hasOwn(from, name)) out[name] = from[name]!;
    else delete out[name];
  }
  return out;
}
const set = (...policies: ReturnType<typeof loaded>[]) => compilePolicySet(policies, {}, 1);

describe('policy properties', () => {
  it('generated rules are valid policies (so the properties speak about real input)', () => {
    fc.assert(
      fc.property(ruleArb, (rule) => {
        expect(validatePolicy(loaded('ALLOW', [rule]).policy, null)).toEqual([]);
      }),
      RUNS,
    );
  });

  it('DENY of X plus ALLOW of everything never allows X (and allows everything else)', () => {
    fc.assert(
      fc.property(ruleArb, requestArb, (x, r) => {
        const matches = set(loaded('ALLOW', [x])).evaluate(WORKLOAD, r).allowed;
        const combined = set(loaded('DENY', [x]), loaded('ALLOW', [{}])).evaluate(WORKLOAD, r);
        expect(combined.allowed).toBe(!matches);
      }),
      RUNS,
    );
  });

  it('adding an ALLOW rule never turns an allow into a deny', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { maxLength: 4 }),
        fc.array(ruleArb, { maxLength: 2 }),
        ruleArb,
        requestArb,
        (allow, deny, extra, r) => {
          const denyPolicies = deny.length ? [loaded('DENY', deny)] : [];
          const before = set(loaded('ALLOW', allow), ...denyPolicies).evaluate(WORKLOAD, r);
          const after = set(loaded('ALLOW', [...allow, extra]), ...denyPolicies).evaluate(WORKLOAD, r);
          if (before.allowed) expect(after.allowed).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it('adding a DENY rule never turns a deny into an allow', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { maxLength: 4 }),
        fc.array(ruleArb, { minLength: 1, maxLength: 2 }),
        ruleArb,
        requestArb,
        (allow, deny, extra, r) => {
          const before = set(loaded('ALLOW', allow), loaded('DENY', deny)).evaluate(WORKLOAD, r);
          const after = set(loaded('ALLOW', allow), loaded('DENY', [...deny, extra])).evaluate(WORKLOAD, r);
          if (!before.allowed) expect(after.allowed).toBe(false);
        },
      ),
      RUNS,
    );
  });

  it('dry-run and AUDIT policies never change the decision', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 3 }), fc.array(ruleArb, { maxLength: 3 }), requestArb, (a, b, r) => {
        const base = set(loaded('ALLOW', a)).evaluate(WORKLOAD, r);
        const shadowed = set(
          loaded('ALLOW', a),
          loaded('DENY', [...b, {}], true),
          loaded('ALLOW', b, true),
          loaded('AUDIT', b),
        ).evaluate(WORKLOAD, r);
        expect(shadowed.allowed).toBe(base.allowed);
        expect(shadowed.code).toBe(base.code);
      }),
      RUNS,
    );
  });

  it('the indexed evaluation reports the same first rule as a plain scan in order', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { minLength: 8, maxLength: 24 }), requestArb, (rules, r) => {
        const policy = loaded('ALLOW', rules);
        const s = set(policy);
        // The plain scan: the same policy compiled on its own, its rules tried in order with no index.
        const scanned = compilePolicy(policy, resolveCompileOptions({}));
        const norm = normalizePath(r.path, 'BASE');
        const path = norm.ok ? norm.path : '';
        const first = scanned.rules.find((rule) => ruleMatches(rule, r, path));
        const d = s.evaluate(WORKLOAD, r);
        if (d.code !== 'invalid_request') expect(d.ruleIndex).toBe(first?.index ?? null);
      }),
      RUNS,
    );
  });

  it('requests that differ only in attributes the policies do not read get the same decision (cache-key soundness)', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { maxLength: 3 }),
        fc.array(ruleArb, { maxLength: 2 }),
        requestArb,
        requestArb,
        (a, d, r1, r2) => {
          const s = set(loaded('ALLOW', a), ...(d.length ? [loaded('DENY', d)] : []));
          const use = s.attributesFor(WORKLOAD);
          const mixed: RequestAttributes = {
            method: use.method ? r1.method : r2.method,
            path: use.path ? r1.path : r2.path,
            host: use.host ? r1.host : r2.host,
            headers: mixHeaders(use.headers, r1.headers, r2.headers),
            sourceIp: use.sourceIp ? r1.sourceIp : r2.sourceIp,
            remoteIp: use.remoteIp ? r1.remoteIp : r2.remoteIp,
            destinationIp: use.destinationIp ? r1.destinationIp : r2.destinationIp,
            destinationPort: use.destinationPort ? r1.destinationPort : r2.destinationPort,
            sni: use.sni ? r1.sni : r2.sni,
            peer: use.peer ? r1.peer : r2.peer,
            user: use.user ? r1.user : r2.user,
            filterMetadata: use.metadata ? r1.filterMetadata : r2.filterMetadata,
          };
          expect(s.evaluate(WORKLOAD, mixed)).toEqual(s.evaluate(WORKLOAD, r1));
        },
      ),
      RUNS,
    );
  });

  it('the decision cache never serves a request the decision of another it differs from in a read attribute', () => {
    const ATTRIBUTES = Object.keys(BASE_REQUEST) as (keyof RequestAttributes)[];
    // Each request is the first one with a few attributes taken from another random request, so entries are both
    // hit (only unread attributes changed) and missed (a read one changed).
    const variant = fc.tuple(requestArb, fc.subarray(ATTRIBUTES, { minLength: 1, maxLength: 3 }));
    let hits = 0;
    fc.assert(
      fc.property(
        fc.array(ruleArb, { minLength: 1, maxLength: 3 }),
        fc.array(ruleArb, { maxLength: 2 }),
        requestArb,
        fc.array(variant, { minLength: 1, maxLength: 6 }),
        (a, d, base, variants) => {
          const s = set(loaded('ALLOW', a), ...(d.length ? [loaded('DENY', d)] : []));
          const cache = new LruDecisionCache({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000, now: () => 0 });
          const requests = [base, ...variants.map(([r, keys]) => ({ ...base, ...pick(r, keys) }))];
          for (const r of requests) {
            const fresh = s.evaluate(WORKLOAD, r);
            const cached = cache.get(s, WORKLOAD, r);
            if (cached === undefined) cache.set(s, WORKLOAD, r, fresh);
            else {
              hits++;
              expect(cached).toEqual(fresh);
            }
          }
        },
      ),
      RUNS,
    );
    expect(hits).toBeGreaterThan(0);
  });

  // Every `when` key kind of conditions.ts is in ruleArb's pool, and requestArb varies every attribute those keys
  // read (IPs, port, SNI, peer and its namespace/trust domain, token principal/audiences/presenter/claims, headers,
  // filter metadata as string and list). AUDIT and dry-run policies are in the set too (their results are part of a
  // Decision), and requests go to three workloads: two share the namespace-wide policies, one also the selector
  // policies. Each request is checked against every entry the earlier ones left in the cache.
  it('a decision served from the cache equals the one computed without it, for every pair of requests and workloads', () => {
    const ATTRIBUTES = Object.keys(BASE_REQUEST) as (keyof RequestAttributes)[];
    const WORKLOADS = [
      WORKLOAD,
      { namespace: 'foo', labels: { app: 'other' } },
      { namespace: 'foo', labels: { version: 'v1', app: 'httpbin' } },
    ];
    // A variant is the first request with one attribute taken from another random request: half the time one the
    // set reads (where a key that leaves it out would merge entries), else any attribute (where entries must merge).
    const variant = fc.tuple(requestArb, fc.nat(), fc.boolean(), fc.constantFrom(0, 0, 0, 1, 2));
    // Each run draws its `when` rules from a few keys (every key comes up across runs), so that what they read is
    // often what a later request changes.
    const policies = fc
      .subarray([...CONDITION_KEYS], { minLength: 1, maxLength: 3 })
      .chain((keys) => {
        const rule = fc.oneof(ruleArb, fromRuleArb, toRuleArb, whenRuleOn(keys), whenRuleOn(CONDITION_KEYS));
        return fc.tuple(
          fc.array(rule, { maxLength: 2 }),
          fc.array(rule, { maxLength: 2 }),
          fc.array(rule, { maxLength: 1 }),
          fc.array(rule, { maxLength: 1 }),
          fc.array(rule, { maxLength: 1 }),
          fc.array(rule, { maxLength: 1 }),
        );
      })
      .map(([allow, deny, wide, audit, dryAllow, dryDeny]) => [
        ...(allow.length ? [loaded('ALLOW', allow)] : []),
        ...(deny.length ? [loaded('DENY', deny)] : []),
        ...(wide.length ? [loaded('DENY', wide, false, true)] : []),
        ...(audit.length ? [loaded('AUDIT', audit)] : []),
        ...(dryAllow.length ? [loaded('ALLOW', dryAllow, true)] : []),
        ...(dryDeny.length ? [loaded('DENY', dryDeny, true, true)] : []),
      ]);
    let hits = 0;
    let misses = 0;
    fc.assert(
      fc.property(policies, requestArb, fc.array(variant, { minLength: 1, maxLength: 16 }), (list, base, variants) => {
        const s = compilePolicySet(list, {}, 1);
        const cache = new LruDecisionCache({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000, now: () => 0 });
        const use = s.attributesFor(WORKLOAD);
        const read = ATTRIBUTES.filter((a) =>
          a === 'headers' ? use.headers.length > 0 : a === 'filterMetadata' ? use.metadata : use[a],
        );
        const requests: [WorkloadRef, RequestAttributes][] = [
          [WORKLOAD, base],
          ...variants.map(([r, n, fromRead, w]): [WorkloadRef, RequestAttributes] => {
            const among = fromRead && read.length > 0 ? read : ATTRIBUTES;
            return [WORKLOADS[w]!, { ...base, ...pick(r, [among[n % among.length]!]) }];
          }),
        ];
        for (const [w, r] of requests) {
          const { decision, hit } = cache.decide(s, w, r);
          if (hit) hits++;
          else misses++;
          expect(decision).toEqual(s.evaluate(w, r));
        }
      }),
      RUNS,
    );
    expect(hits).toBeGreaterThan(0);
    expect(misses).toBeGreaterThan(0);
  });

  it('explain() always carries the decision evaluate() makes', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 3 }), fc.array(ruleArb, { maxLength: 2 }), requestArb, (a, d, r) => {
        const s = set(loaded('ALLOW', a), ...(d.length ? [loaded('DENY', d)] : []));
        const e = s.explain(WORKLOAD, r);
        expect(e.decision).toEqual(s.evaluate(WORKLOAD, r));
        for (const p of e.policies)
          for (const rule of p.rules) expect(rule.matched === (rule.failure === null)).toBe(true);
      }),
      RUNS,
    );
  });

  it('normalization is idempotent and leaves no dot segments', () => {
    const segment = fc.constantFrom(
      'a',
      'b',
      '.',
      '..',
      '',
      '%2e',
      '%2E%2e',
      '%2F',
      '%5c',
      '\\',
      '%41',
      '%7E',
      'x%20y',
      '..%2F',
    );
    fc.assert(
      fc.property(
        fc.array(segment, { maxLength: 8 }),
        fc.constantFrom(...PATH_NORMALIZATIONS.filter((m) => m !== 'NONE')),
        (segs, mode) => {
          const once = normalizePath(`/${segs.join('/')}`, mode);
          if (!once.ok) return;
          const twice = normalizePath(once.path, mode);
          expect(twice).toEqual(once);
          expect(once.path.startsWith('/')).toBe(true);
          expect(once.path.split('/').some((s) => s === '.' || s === '..')).toBe(false);
        },
      ),
      propertyRuns(500),
    );
  });
});
