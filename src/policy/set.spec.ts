import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import { compilePolicySet, compilePolicySetInSlices, PLAN_CACHE_LIMIT } from './set.js';
import { NO_ATTRIBUTES } from './types.js';

describe('PolicySet', () => {
  it('reports dry-run policies as shadow results without enforcing them', () => {
    const set = policySet(
      policy('DENY', '  rules:\n  - to:\n    - operation:\n        methods: ["DELETE"]', {
        name: 'dry-deny',
        annotations: '    istio.io/dry-run: "true"',
      }) +
        policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        methods: ["GET"]', {
          name: 'dry-allow',
          annotations: '    istio.io/dry-run: "true"',
        }),
    );
    const del = set.evaluate(WORKLOAD, req({ method: 'DELETE' }));
    expect(del).toMatchObject({ allowed: true, code: 'no_allow_policy' });
    expect(del.shadow.map((s) => [s.action, s.policy.name, s.ruleIndex, s.wouldAllow])).toEqual([
      ['DENY', 'dry-deny', 0, false],
      ['ALLOW', 'dry-allow', null, false],
    ]);
    const get = set.evaluate(WORKLOAD, req({ method: 'GET' }));
    expect(get.shadow.map((s) => [s.action, s.policy.name, s.ruleIndex, s.wouldAllow])).toEqual([
      ['DENY', 'dry-deny', null, true],
      ['ALLOW', 'dry-allow', 0, true],
    ]);
  });

  it('lists matching AUDIT policies and leaves the decision alone', () => {
    const set = policySet(
      policy('AUDIT', '  rules:\n  - to:\n    - operation:\n        paths: ["/audited"]', { name: 'aud' }),
    );
    expect(set.evaluate(WORKLOAD, req({ path: '/audited' })).audit.map((a) => a.name)).toEqual(['aud']);
    expect(set.evaluate(WORKLOAD, req({ path: '/other' })).audit).toEqual([]);
  });

  it('attributesFor lists exactly what the selecting policies read', () => {
    const set = policySet(
      policy(
        'ALLOW',
        '  rules:\n  - from:\n    - source:\n        principals: ["a"]\n    to:\n    - operation:\n        notPaths: ["/x"]\n    when:\n    - key: request.headers[X-Env]\n      values: ["p"]',
      ) +
        policy('CUSTOM', '  provider:\n    name: ext\n  rules:\n  - to:\n    - operation:\n        hosts: ["h"]', {
          name: 'custom',
        }),
    );
    expect(set.attributesFor(WORKLOAD)).toEqual({ ...NO_ATTRIBUTES, path: true, peer: true, headers: ['x-env'] });
    expect(set.attributesFor({ namespace: 'other', labels: {} }).path).toBe(false);
  });

  it('a path that cannot be normalized is an invalid request only when the path is read', () => {
    const reads = policySet(policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        paths: ["/a"]'));
    // Fail closed: a path the policies read but that cannot be normalized is denied, with the reason.
    expect(reads.evaluate(WORKLOAD, req({ path: '/a%00' }))).toMatchObject({ allowed: false, code: 'invalid_request' });
    expect(reads.evaluate(WORKLOAD, req({ path: '/a%00' })).reason).toMatch(/^invalid request path: ./);
    const ignores = policySet(policy('ALLOW', '  rules:\n  - {}'));
    expect(ignores.evaluate(WORKLOAD, req({ path: '/a%00' })).code).toBe('allow_matched');
  });

  it('the principal/path index gives the same first rule as a plain scan in policy order', () => {
    const rules: string[] = [];
    for (let i = 0; i < 40; i++) {
      if (i % 3 === 0)
        rules.push(`  - from:\n    - source:\n        principals: ["cluster.local/ns/n${i % 5}/sa/s${i % 7}"]`);
      else if (i % 3 === 1) rules.push(`  - to:\n    - operation:\n        paths: ["/p${i % 6}"]`);
      else rules.push(`  - to:\n    - operation:\n        methods: ["M${i % 4}"]`);
    }
    const set = policySet(policy('ALLOW', `  rules:\n${rules.join('\n')}`));
    const plan = set.planFor(WORKLOAD);
    for (let n = 0; n < 5; n++) {
      for (let s = 0; s < 7; s++) {
        for (let p = 0; p < 6; p++) {
          for (let m = 0; m < 4; m++) {
            const r = req({ peer: peer(`spiffe://cluster.local/ns/n${n}/sa/s${s}`), path: `/p${p}`, method: `M${m}` });
            const first = plan.allow.rules.findIndex((rule) => {
              const pr = rule.principalKeys;
              const pk = rule.pathKeys;
              if (pr) return pr.includes(r.peer!.spiffeId);
              if (pk) return pk.includes(r.path);
              return rule.to?.[0]?.[0]?.values.includes(r.method) ?? false;
            });
            expect(set.evaluate(WORKLOAD, r).ruleIndex).toBe(first < 0 ? null : first);
          }
        }
      }
    }
  });

  it('keeps the generation and the loaded policies', () => {
    const set = policySet(policy('ALLOW', '  rules:\n  - {}'), {}, 7);
    expect(set.generation).toBe(7);
    expect(set.policies).toHaveLength(1);
    expect(set.policiesFor(WORKLOAD).map((p) => p.policy.metadata.name)).toEqual(['allow']);
    expect(set.options.pathNormalization).toBe('BASE');
  });

  it('orders the policies of a workload root namespace first, then by namespace and name, whatever the load order', () => {
    // The first matching rule in this order is the one a Decision names (istio-authorization.md: candidates are
    // the root namespace's policies plus the workload namespace's).
    const yaml =
      policy('ALLOW', '  rules:\n  - {}', { name: 'b' }) +
      policy('ALLOW', '  rules:\n  - {}', { name: 'a' }) +
      policy('ALLOW', '  rules:\n  - {}', { name: 'z-root', namespace: 'istio-system', selector: false }) +
      policy('ALLOW', '  rules:\n  - {}', { name: 'c' });
    const names = policySet(yaml)
      .policiesFor(WORKLOAD)
      .map((p) => p.policy.metadata.name);
    expect(names).toEqual(['z-root', 'a', 'b', 'c']);
    expect(policySet(yaml).evaluate(WORKLOAD, req()).policy?.name).toBe('z-root');
    // A namespace sorting before the root namespace's name still comes after it.
    const early = policySet(
      policy('ALLOW', '  rules:\n  - {}', { name: 'a', namespace: '0a', selector: false }) +
        policy('ALLOW', '  rules:\n  - {}', { name: 'z-root', namespace: 'istio-system', selector: false }),
    );
    expect(early.policiesFor({ namespace: '0a', labels: {} }).map((p) => p.policy.metadata.name)).toEqual([
      'z-root',
      'a',
    ]);
  });

  it("a workload of the root namespace gets the root namespace's policies once; another namespace's, theirs too", () => {
    // istio-authorization.md: the candidates are the root namespace's policies plus the workload namespace's; for a
    // workload of the root namespace these are one and the same list.
    const yaml =
      policy('AUDIT', '  rules:\n  - {}', { name: 'root-audit', namespace: 'istio-system', selector: false }) +
      policy('DENY', '  rules:\n  - to:\n    - operation:\n        paths: ["/x"]', {
        name: 'root-deny',
        namespace: 'istio-system',
        selector: false,
      }) +
      policy('ALLOW', '  rules:\n  - {}', { name: 'own', namespace: 'foo', selector: false });
    const set = policySet(yaml);
    const inRoot = { namespace: 'istio-system', labels: { app: 'httpbin' } };
    const names = (w: typeof WORKLOAD) => set.policiesFor(w).map((p) => p.policy.metadata.name);
    expect(names(inRoot)).toEqual(['root-audit', 'root-deny']);
    expect(names(WORKLOAD)).toEqual(['root-audit', 'root-deny', 'own']);
    // The AUDIT result names the policy once, the DENY still denies, and without an ALLOW the rest is allowed.
    expect(set.evaluate(inRoot, req()).audit.map((p) => p.name)).toEqual(['root-audit']);
    expect(set.evaluate(inRoot, req({ path: '/x' })).allowed).toBe(false);
    expect(set.evaluate(inRoot, req()).code).toBe('no_allow_policy');
    // The explanation lists each once too (DENY first: the order it is asked in).
    expect(set.explain(inRoot, req()).policies.map((p) => p.policy.name)).toEqual(['root-deny', 'root-audit']);
  });

  it('says whether any policy selects the workload when none enforces ALLOW', () => {
    expect(policySet('').evaluate(WORKLOAD, req()).reason).toMatch(/^no policy selects/);
    const deny = policySet(policy('DENY', '  rules:\n  - to:\n    - operation:\n        paths: ["/x"]'));
    expect(deny.evaluate(WORKLOAD, req()).reason).toMatch(/^no ALLOW policy selects/);
    expect(deny.evaluate(WORKLOAD, req({ path: '/x' })).allowed).toBe(false);
  });

  describe('labelsMatter: an enforced ALLOW/DENY policy applies to some workloads of the namespace and not others', () => {
    const sel = (action: string, extra: { namespace?: string; annotations?: string } = {}) =>
      policy(action, '  rules:\n  - {}', { name: `p-${action.toLowerCase()}`, ...extra });
    it('is true for a selector ALLOW or DENY in the namespace or in the root namespace', () => {
      expect(policySet(sel('ALLOW')).labelsMatter('foo')).toBe(true);
      expect(policySet(sel('DENY')).labelsMatter('foo')).toBe(true);
      expect(policySet(sel('DENY', { namespace: 'istio-system' })).labelsMatter('foo')).toBe(true);
      expect(policySet(sel('DENY', { namespace: 'istio-system' })).labelsMatter('istio-system')).toBe(true);
      const gw = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: gw
  namespace: foo
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: ingress
  action: DENY
  rules:
  - {}
`;
      expect(policySet(gw).labelsMatter('foo')).toBe(true);
    });
    it('is false for namespace-wide, other-namespace, dry-run, AUDIT and CUSTOM policies', () => {
      const wide = policy('DENY', '  rules:\n  - {}', { selector: false });
      expect(policySet(wide).labelsMatter('foo')).toBe(false);
      expect(policySet(sel('ALLOW')).labelsMatter('bar')).toBe(false);
      expect(policySet(sel('DENY', { annotations: '    istio.io/dry-run: "true"' })).labelsMatter('foo')).toBe(false);
      expect(policySet(sel('AUDIT')).labelsMatter('foo')).toBe(false);
      const custom = policy('CUSTOM', '  provider:\n    name: ext\n  rules:\n  - {}', { name: 'custom' });
      expect(policySet(custom).labelsMatter('foo')).toBe(false);
      // Mixed: one namespace-wide and one selector policy: labels matter; asked twice, same answer.
      const mixed = policySet(wide + sel('ALLOW'));
      expect(mixed.labelsMatter('foo')).toBe(true);
      expect(mixed.labelsMatter('foo')).toBe(true);
      expect(policySet('').labelsMatter('istio-system')).toBe(false);
    });
  });

  describe('reuse of compiled policies across a reload', () => {
    const yaml = policy(
      'ALLOW',
      '  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/foo/sa/a"]',
    );
    const local = req({ peer: peer('spiffe://cluster.local/ns/foo/sa/a') });
    const other = req({ peer: peer('spiffe://example.org/ns/foo/sa/a') });
    it('never reuses a policy compiled under other options (cluster.local means the local trust domain)', async () => {
      const first = policySet(yaml);
      expect(first.evaluate(WORKLOAD, other).allowed).toBe(false);
      const moved = compilePolicySet(first.policies, { trustDomain: 'example.org' }, 2, first);
      expect(moved.evaluate(WORKLOAD, other).allowed).toBe(true);
      expect(moved.evaluate(WORKLOAD, local).allowed).toBe(false);
      const sliced = await compilePolicySetInSlices(first.policies, { trustDomain: 'example.org' }, 2, first, () =>
        Promise.resolve(),
      );
      expect(sliced.evaluate(WORKLOAD, other).allowed).toBe(true);
      expect(sliced.evaluate(WORKLOAD, local).allowed).toBe(false);
      expect(sliced.planFor(WORKLOAD).policies[0]).not.toBe(first.planFor(WORKLOAD).policies[0]);
    });
    it('reuses them under the same options, in one go or in slices, with the same decisions', async () => {
      const first = policySet(yaml);
      const compiled = first.planFor(WORKLOAD).policies[0];
      const again = compilePolicySet(first.policies, {}, 2, first);
      expect(again.planFor(WORKLOAD).policies[0]).toBe(compiled);
      let pauses = 0;
      const sliced = await compilePolicySetInSlices(first.policies, {}, 3, again, () => {
        pauses++;
        return undefined;
      });
      expect(pauses).toBe(1);
      expect(sliced.planFor(WORKLOAD).policies[0]).toBe(compiled);
      expect(sliced.evaluate(WORKLOAD, local).allowed).toBe(true);
      expect(sliced.evaluate(WORKLOAD, other).allowed).toBe(false);
      const fresh = await compilePolicySetInSlices(first.policies, {}, 4, null, () => undefined);
      expect(fresh.planFor(WORKLOAD).policies[0]).not.toBe(compiled);
      expect(fresh.evaluate(WORKLOAD, local).allowed).toBe(true);
    });
  });

  it('workloads attached to different targetRef policies never share a plan, however many a namespace has', () => {
    // 13 Gateway-targeted DENY policies t00..t12, each denying its own path. Attached sets [1, 2] and [12] must stay
    // apart (targets.ts: a targetRef policy applies only to the workloads it targets).
    const gw = (i: number) => ({ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: `g${i}` });
    let yaml = '';
    for (let i = 0; i <= 12; i++) {
      const n = String(i).padStart(2, '0');
      yaml += `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: t${n}
  namespace: foo
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: g${i}
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/p${i}"]
---
`;
    }
    const set = policySet(yaml);
    const w12 = { namespace: 'foo', labels: {}, targets: [gw(1), gw(2)] };
    const w_12 = { namespace: 'foo', labels: {}, targets: [gw(12)] };
    expect(set.evaluate(w12, req({ path: '/p1' })).allowed).toBe(false);
    expect(set.evaluate(w12, req({ path: '/p12' })).allowed).toBe(true);
    expect(set.evaluate(w_12, req({ path: '/p12' })).allowed).toBe(false);
    expect(set.evaluate(w_12, req({ path: '/p1' })).allowed).toBe(true);
    expect(set.keyPlanFor(w12).prefix).not.toBe(set.keyPlanFor(w_12).prefix);
  });
});

describe('PolicySet: what a Decision shares, the plan cache, slices', () => {
  const dry = '    istio.io/dry-run: "true"';
  const every = '  rules:\n  - {}';

  it("without dry-run or AUDIT policies a request gets the rule's own frozen Decision (no copy per request)", () => {
    const set = policySet(policy('DENY', '  rules:\n  - to:\n    - operation:\n        paths: ["/d"]', { name: 'd' }));
    const first = set.evaluate(WORKLOAD, req({ path: '/d' }));
    expect(first).toMatchObject({ allowed: false, code: 'deny_matched' });
    expect(set.evaluate(WORKLOAD, req({ path: '/d' }))).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('the empty shadow or audit list of a Decision is frozen: a cached Decision handed to many cannot be changed', () => {
    const auditOnly = policySet(policy('AUDIT', every, { name: 'a' }));
    const a = auditOnly.evaluate(WORKLOAD, req());
    expect(a.audit.map((p) => p.name)).toEqual(['a']);
    expect(a.shadow).toEqual([]);
    expect(Object.isFrozen(a.shadow)).toBe(true);
    const dryOnly = policySet(policy('DENY', every, { name: 's', annotations: dry }));
    const d = dryOnly.evaluate(WORKLOAD, req());
    expect(d.shadow.map((s) => s.policy.name)).toEqual(['s']);
    expect(d.audit).toEqual([]);
    expect(Object.isFrozen(d.audit)).toBe(true);
  });

  it(`keeps ${PLAN_CACHE_LIMIT} plans, starts over at the next new namespace, and never reuses a plan number`, () => {
    const set = policySet(policy('ALLOW', every, { selector: false, namespace: 'n0' }));
    const w = (i: number) => ({ namespace: `n${i}`, labels: {} });
    const first = set.planFor(w(0));
    const prefixes = new Set<string>([first.key.prefix]);
    for (let i = 1; i < PLAN_CACHE_LIMIT; i++) prefixes.add(set.planFor(w(i)).key.prefix);
    expect(prefixes.size).toBe(PLAN_CACHE_LIMIT);
    // Full, but known namespaces are still served from the cache.
    expect(set.planFor(w(0))).toBe(first);
    expect(set.planFor(w(PLAN_CACHE_LIMIT - 1))).toBe(set.planFor(w(PLAN_CACHE_LIMIT - 1)));
    // One more namespace: the cache starts over, so n0's plan is rebuilt, with a prefix never given before.
    set.planFor(w(PLAN_CACHE_LIMIT));
    const rebuilt = set.planFor(w(0));
    expect(rebuilt).not.toBe(first);
    expect(prefixes.has(rebuilt.key.prefix)).toBe(false);
    expect(set.evaluate(w(0), req()).allowed).toBe(true);
    expect(rebuilt.policies.map((p) => p.ref.name)).toEqual(['allow']);
    // Counting restarted too: the next reset comes only after another full cache, not at the next namespace.
    set.planFor(w(PLAN_CACHE_LIMIT + 1));
    expect(set.planFor(w(0))).toBe(rebuilt);
  });

  it('a reload of a large set never goes on while a pause the yielder asked for is pending', async () => {
    // 600 unchanged policies, all compiled by the previous set, and one new one: the reload also walks what the
    // previous set holds (1200 entries) before compiling the new policy.
    let yaml = '';
    for (let i = 0; i < 600; i++) {
      yaml += policy('ALLOW', `  rules:\n  - to:\n    - operation:\n        paths: ["/p${i}"]`, { name: `p${i}` });
    }
    const previous = policySet(yaml);
    expect(previous.evaluate(WORKLOAD, req({ path: '/p599' })).allowed).toBe(true);
    const added = policySet(policy('DENY', '  rules:\n  - to:\n    - operation:\n        paths: ["/p7"]')).policies;
    let pending = false;
    let overlapped = 0;
    let asked = 0;
    const next = await compilePolicySetInSlices([...previous.policies, ...added], {}, 2, previous, () => {
      asked++;
      if (pending) overlapped++;
      pending = true;
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          pending = false;
          resolve();
        }),
      );
    });
    expect(asked).toBeGreaterThan(600);
    expect(overlapped).toBe(0);
    expect(next.evaluate(WORKLOAD, req({ path: '/p599' })).allowed).toBe(true);
    expect(next.evaluate(WORKLOAD, req({ path: '/p7' })).allowed).toBe(false);
    expect(next.evaluate(WORKLOAD, req({ path: '/q' })).allowed).toBe(false);
    expect(next.planFor(WORKLOAD).policies[1]).toBe(previous.planFor(WORKLOAD).policies[0]);
  });

  it('a reload in slices waits for each pause the yielder asks for before going on', async () => {
    const yaml = policy('ALLOW', every, { name: 'a' }) + policy('DENY', every, { name: 'b' });
    const base = policySet(yaml);
    let release: () => void = () => {};
    const calls: number[] = [];
    let done = false;
    const pending = compilePolicySetInSlices(base.policies, {}, 2, null, () => {
      calls.push(calls.length);
      if (calls.length > 1) return undefined;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    }).then((s) => {
      done = true;
      return s;
    });
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    // Paused after the first policy: the second is not compiled yet.
    expect(calls).toEqual([0]);
    expect(done).toBe(false);
    release();
    const set = await pending;
    expect(calls).toEqual([0, 1]);
    expect(set.evaluate(WORKLOAD, req()).allowed).toBe(false);
  });
});
