import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req } from '../../test/conformance/policy-fixtures.js';
import { resolveCompileOptions } from './options.js';
import { compilePolicySet, compilePolicySetInSlices, PolicySet } from './set.js';
import type { WorkloadRef } from './types.js';

/** Policies compiled per namespace on first use (namespaces.ts): when a policy compiles never changes a decision. */

const at = (namespace: string): WorkloadRef => ({ namespace, labels: { app: 'httpbin' } });
const allowFrom = (ns: string, caller: string, name = 'allow') =>
  policy('ALLOW', `  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/${caller}/sa/x"]`, {
    name,
    namespace: ns,
  });
const denyPath = (ns: string, path: string, name = 'deny') =>
  policy('DENY', `  rules:\n  - to:\n    - operation:\n        paths: ["${path}"]`, { name, namespace: ns });
const from = (caller: string, path = '/') => req({ peer: peer(`spiffe://cluster.local/ns/${caller}/sa/x`), path });

const YAML =
  denyPath('istio-system', '/root-denied', 'mesh-deny') +
  allowFrom('a', 'ca') +
  denyPath('a', '/a-denied') +
  allowFrom('b', 'cb') +
  // Two policies of one namespace given out of name order: the set's order (by name) must not depend on when
  // the namespace compiles.
  allowFrom('c', 'cc2', 'z-second') +
  allowFrom('c', 'cc1', 'a-first');
const OPTIONS = resolveCompileOptions({});
const never = () => false;
const compiledCount = (set: PolicySet) => PolicySet.reusable(set, OPTIONS)?.size ?? 0;

/** Each namespace's decisions, both sides of every rule (allowed caller, other caller, denied path). */
function decisions(set: PolicySet): string[] {
  const out: string[] = [];
  for (const [ns, caller] of [
    ['a', 'ca'],
    ['b', 'cb'],
    ['c', 'cc1'],
    ['c', 'cc2'],
    ['d', 'cd'],
  ] as const) {
    for (const r of [from(caller), from('stranger'), from(caller, '/a-denied'), from(caller, '/root-denied')]) {
      const d = set.evaluate(at(ns), r);
      out.push(`${ns} ${r.peer?.spiffeId} ${r.path}: ${d.allowed} ${d.code} ${d.policy?.name ?? '-'}`);
    }
  }
  return out;
}

describe('policy set: namespaces compiled on first use', () => {
  it('compiles nothing up front, only the namespaces requests reach, and decides as a fully compiled set', async () => {
    const lazy = policySet(YAML);
    expect(compiledCount(lazy)).toBe(0);
    // Namespace b (and the root namespace, which applies everywhere) only.
    expect(lazy.evaluate(at('b'), from('cb')).allowed).toBe(true);
    expect(lazy.evaluate(at('b'), from('ca')).allowed).toBe(false);
    expect(compiledCount(lazy)).toBe(2);
    const warm = policySet(YAML);
    await warm.warm(() => undefined, never);
    expect(compiledCount(warm)).toBe(6);
    expect(decisions(lazy)).toEqual(decisions(warm));
    expect(decisions(warm)).toContain('a spiffe://cluster.local/ns/ca/sa/x /a-denied: false deny_matched deny');
    expect(decisions(warm)).toContain('c spiffe://cluster.local/ns/cc2/sa/x /: true allow_matched z-second');
    expect(decisions(warm)).toContain('c spiffe://cluster.local/ns/cc1/sa/x /: true allow_matched a-first');
    expect(decisions(warm)).toContain('d spiffe://cluster.local/ns/cd/sa/x /root-denied: false deny_matched mesh-deny');
    // Same order either way: the root namespace first, then by name.
    const names = (set: PolicySet) => set.policiesFor(at('c')).map((p) => p.policy.metadata.name);
    expect(names(lazy)).toEqual(['mesh-deny', 'a-first', 'z-second']);
    expect(names(warm)).toEqual(names(lazy));
  });

  it('warm-up stops when told to, and a namespace compiled meanwhile is not compiled twice', async () => {
    const set = policySet(YAML);
    let steps = 0;
    await set.warm(
      () => undefined,
      () => steps++ >= 2,
    );
    expect(compiledCount(set)).toBe(2);
    const plan = set.planFor(at('c')).policies;
    await set.warm(() => undefined, never);
    expect(set.planFor(at('c')).policies[0]).toBe(plan[0]);
    expect(compiledCount(set)).toBe(6);
  });

  it('warm-up compiles nothing more while a pause the yielder asked for is pending', async () => {
    const set = policySet(YAML);
    let release: () => void = () => {};
    let asked = 0;
    const warming = set.warm(() => {
      asked++;
      if (asked > 1) return undefined;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    }, never);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    // Paused after its first policy.
    expect(asked).toBe(1);
    expect(compiledCount(set)).toBe(1);
    release();
    await warming;
    expect(asked).toBe(6);
    expect(compiledCount(set)).toBe(6);
  });

  it('a sliced reload compiles only what changed; unchanged policies stay as they were (compiled or not)', async () => {
    const first = policySet(YAML);
    expect(first.evaluate(at('a'), from('ca')).allowed).toBe(true);
    const compiledA = first.planFor(at('a')).policies;
    // Namespace b's file changed: its policy is a new object; every other policy object is the same one.
    const changed = policySet(allowFrom('b', 'cb-new')).policies[0]!;
    const next = first.policies.map((p) => (p.policy.metadata.namespace === 'b' ? changed : p));
    const sliced = await compilePolicySetInSlices(next, {}, 2, first, () => undefined);
    // a and the root namespace reused, b's new policy compiled; c stays to be compiled on first use.
    expect(compiledCount(sliced)).toBe(4);
    expect(sliced.planFor(at('a')).policies).toEqual(compiledA);
    expect(sliced.planFor(at('a')).policies[1]).toBe(compiledA[1]);
    expect(sliced.evaluate(at('b'), from('cb-new')).allowed).toBe(true);
    expect(sliced.evaluate(at('b'), from('cb')).allowed).toBe(false);
    expect(decisions(sliced)).toEqual(decisions(compilePolicySet(next, {}, 3)));
  });
});
