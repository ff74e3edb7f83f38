import { describe, expect, it } from 'vitest';
import { policy, policySet } from '../../test/conformance/policy-fixtures.js';
import { standInEngine } from '../../test/support/stand-in-engine.js';
import { parseConfigText } from '../config/load.js';
import { configWorkloadRegistry } from '../sources/config-registry.js';
import type { PeerInput } from './input.js';
import { labelsUnknown, resolveDestination, unresolvedReason } from './resolve.js';
import {
  combineRegistries,
  EMPTY_REGISTRY,
  type RegisteredWorkload,
  type WorkloadRegistry,
  type WorkloadResolution,
} from './workloads.js';

const peer: PeerInput = { address: '', port: 0, principal: '', certificate: '', service: '', labels: {} };
const registry = configWorkloadRegistry(
  parseConfigText(
    `policy:
  workloads:
    - { name: web-1, namespace: foo, labels: { app: httpbin }, serviceAccount: web, addresses: ["10.0.0.7", "fd00::7"] }
    - { namespace: foo, labels: { app: httpbin }, serviceAccount: web }
    - { namespace: foo, labels: { app: a }, serviceAccount: two }
    - { namespace: foo, labels: { app: b }, serviceAccount: two }
`,
    'config.yaml',
  ).policy.workloads,
);

describe('resolveDestination', () => {
  it('takes context extensions first: namespace plus every other key as a label', () => {
    const r = resolveDestination({ namespace: 'shop', app: 'orders' }, { ...peer, labels: { app: 'x' } }, registry);
    expect(r).toEqual({
      workload: { namespace: 'shop', labels: { app: 'orders' } },
      resolution: 'context_extensions',
      name: '',
    });
  });

  it('then destination labels, with the principal namespace', () => {
    const r = resolveDestination(
      {},
      { ...peer, labels: { app: 'cart' }, principal: 'spiffe://cluster.local/ns/shop/sa/cart' },
    );
    expect(r).toMatchObject({
      workload: { namespace: 'shop', labels: { app: 'cart' } },
      resolution: 'destination_labels',
    });
  });

  it('then the registry by IP (IPv4-mapped IPv6 too), then by principal when exactly one workload matches', () => {
    expect(resolveDestination({}, { ...peer, address: '::ffff:10.0.0.7' }, registry)).toMatchObject({
      workload: { namespace: 'foo', labels: { app: 'httpbin' }, serviceAccount: 'web' },
      resolution: 'registry_address',
      name: 'web-1',
    });
    // Two replicas with the same labels are one workload.
    const byPrincipal = { ...peer, address: '10.1.1.1', principal: 'spiffe://cluster.local/ns/foo/sa/web' };
    expect(resolveDestination({}, byPrincipal, registry).resolution).toBe('registry_principal');
    const ambiguous = { ...peer, principal: 'spiffe://cluster.local/ns/foo/sa/two' };
    expect(resolveDestination({}, ambiguous, registry)).toMatchObject({
      workload: { namespace: 'foo', labels: {} },
      resolution: 'namespace_only',
    });
  });

  it('never takes a registry answer that contradicts context extensions or the principal', () => {
    expect(resolveDestination({ namespace: 'bar' }, { ...peer, address: '10.0.0.7' }, registry).resolution).toBe(
      'namespace_only',
    );
    const otherSa = { ...peer, address: '10.0.0.7', principal: 'spiffe://cluster.local/ns/foo/sa/other' };
    expect(resolveDestination({}, otherSa, registry).resolution).toBe('namespace_only');
  });

  it('trusts no registry before its first full load', () => {
    const unsynced = {
      ...registry,
      synced: false,
      byAddress: registry.byAddress,
      byServiceAccount: registry.byServiceAccount,
    };
    expect(resolveDestination({}, { ...peer, address: '10.0.0.7' }, unsynced).resolution).toBe('unresolved');
  });
});

describe('combineRegistries (Kubernetes Pods, then policy.workloads)', () => {
  const pods = {
    synced: true,
    byAddress: (ip: string) =>
      ip === '10.0.0.7' ? { namespace: 'foo', labels: { app: 'pod' }, name: 'pod-1' } : undefined,
    byServiceAccount: () => [],
  };
  it('asks in order, and skips a registry that has not synced', () => {
    expect(combineRegistries([pods, registry]).byAddress('10.0.0.7')?.name).toBe('pod-1');
    expect(combineRegistries([{ ...pods, synced: false }, registry]).byAddress('10.0.0.7')?.name).toBe('web-1');
    expect(combineRegistries([pods, registry]).byServiceAccount('foo', 'two')).toHaveLength(2);
    expect(combineRegistries([EMPTY_REGISTRY]).byAddress('10.0.0.7')).toBeUndefined();
  });
});

describe('unresolvedReason (fail closed on unknown labels)', () => {
  const nsOnly = { workload: { namespace: 'foo', labels: {} }, resolution: 'namespace_only' as const };
  const allowGet = '  rules:\n  - to:\n    - operation:\n        methods: ["GET"]';

  it('denies when an enforced selector in the namespace could apply, and not when none can', () => {
    expect(unresolvedReason(policySet(policy('ALLOW', allowGet)), nsOnly)).toMatch(/labels in namespace foo/);
    expect(unresolvedReason(policySet(policy('DENY', allowGet)), nsOnly)).not.toBeNull();
    expect(unresolvedReason(policySet(policy('ALLOW', allowGet, { selector: false })), nsOnly)).toBeNull();
    // A selector in another namespace does not matter to foo.
    expect(unresolvedReason(policySet(policy('ALLOW', allowGet, { namespace: 'bar' })), nsOnly)).toBeNull();
  });

  it('counts targetRef policies: which Service or Gateway a request is for is unknown too', () => {
    const targeted = policy('ALLOW', `  targetRef: { group: "", kind: Service, name: httpbin }\n${allowGet}`, {
      selector: false,
    });
    expect(unresolvedReason(policySet(targeted), nsOnly)).not.toBeNull();
  });

  it('counts selectors in the root namespace, and never dry-run, AUDIT or CUSTOM policies', () => {
    const root = policy('ALLOW', allowGet, { namespace: 'istio-system' });
    expect(unresolvedReason(policySet(root), nsOnly)).not.toBeNull();
    const dry = policy('ALLOW', allowGet, { annotations: '    istio.io/dry-run: "true"' });
    expect(unresolvedReason(policySet(dry), nsOnly)).toBeNull();
    expect(unresolvedReason(policySet(policy('AUDIT', allowGet)), nsOnly)).toBeNull();
  });

  it('denies an unknown namespace whatever the policies; resolved labels are never questioned', () => {
    const empty = policySet('');
    expect(
      unresolvedReason(empty, { workload: { namespace: '', labels: {} }, resolution: 'unresolved' }),
    ).not.toBeNull();
    const resolved = {
      workload: { namespace: 'foo', labels: { app: 'httpbin' } },
      resolution: 'registry_address' as const,
    };
    expect(unresolvedReason(policySet(policy('ALLOW', allowGet)), resolved)).toBeNull();
  });

  it('treats a policy set that cannot say as one where labels matter', () => {
    const opaque = standInEngine({ generation: 1, evaluate: () => ({}) as never, attributesFor: () => ({}) as never });
    expect(unresolvedReason(opaque, nsOnly)).not.toBeNull();
  });
});

describe('policy.workloads addresses', () => {
  it('refuses an address listed by two workloads, naming the line', () => {
    const text =
      'policy:\n  workloads:\n    - { namespace: a, addresses: [10.0.0.1] }\n    - namespace: b\n      addresses:\n        - 10.0.0.1\n';
    expect(() => parseConfigText(text, 'c.yaml')).toThrow(
      /c\.yaml:6: policy\.workloads\.1\.addresses\.0: address 10\.0\.0\.1 is already listed by policy\.workloads\[0\]/,
    );
    expect(() =>
      parseConfigText('policy:\n  workloads:\n    - { namespace: a, addresses: [pod-1] }\n', 'c.yaml'),
    ).toThrow(/c\.yaml:3: .*expected an IP address/);
  });
});

/** A registry that answers every lookup with `w` (a stand-in that shows which lookups resolution makes). */
function answering(w: RegisteredWorkload, list: readonly RegisteredWorkload[] = [w]): WorkloadRegistry {
  return { synced: true, byAddress: () => w, byServiceAccount: () => list };
}
const FOO_WEB: RegisteredWorkload = { namespace: 'foo', labels: { app: 'web' }, serviceAccount: 'web', name: 'web-1' };

describe('resolveDestination: each rule, both sides', () => {
  it('context extensions with labels but no namespace take the namespace from the principal', () => {
    const r = resolveDestination({ app: 'orders' }, { ...peer, principal: 'spiffe://cluster.local/ns/shop/sa/x' });
    expect(r).toEqual({
      workload: { namespace: 'shop', labels: { app: 'orders' } },
      resolution: 'context_extensions',
      name: '',
    });
  });

  it('a registry entry in the context-extensions namespace but not the principal namespace is not taken', () => {
    const dest = { ...peer, address: '10.0.0.9', principal: 'spiffe://cluster.local/ns/bar/sa/web' };
    expect(resolveDestination({ namespace: 'foo' }, dest, answering(FOO_WEB)).resolution).toBe('namespace_only');
    const agreeing = { ...dest, principal: 'spiffe://cluster.local/ns/foo/sa/web' };
    expect(resolveDestination({ namespace: 'foo' }, agreeing, answering(FOO_WEB)).resolution).toBe('registry_address');
  });

  it('an entry without a service account is consistent with any principal service account of its namespace', () => {
    const noSa: RegisteredWorkload = { namespace: 'foo', labels: { app: 'web' } };
    const dest = { ...peer, address: '10.0.0.9', principal: 'spiffe://cluster.local/ns/foo/sa/anything' };
    expect(resolveDestination({}, dest, answering(noSa)).resolution).toBe('registry_address');
  });

  it('no address: the registry is not asked by address', () => {
    const dest = { ...peer, address: '' };
    expect(resolveDestination({}, dest, answering(FOO_WEB)).resolution).toBe('unresolved');
  });

  it('by principal only for a Kubernetes-shaped principal (namespace and service account both known)', () => {
    const byPrincipalOnly: WorkloadRegistry = {
      synced: true,
      byAddress: () => undefined,
      byServiceAccount: () => [FOO_WEB],
    };
    const k8s = { ...peer, principal: 'spiffe://cluster.local/ns/foo/sa/web' };
    expect(resolveDestination({}, k8s, byPrincipalOnly)).toMatchObject({
      resolution: 'registry_principal',
      workload: { namespace: 'foo', labels: { app: 'web' }, serviceAccount: 'web' },
      name: 'web-1',
    });
    const other = { ...peer, principal: 'spiffe://example.org/payments' };
    expect(resolveDestination({}, other, byPrincipalOnly).resolution).toBe('unresolved');
  });

  it('several workloads of one service account: one answer only when their labels are the same', () => {
    const a: RegisteredWorkload = { namespace: 'foo', labels: { app: 'web' }, serviceAccount: 'web' };
    const more: RegisteredWorkload = { namespace: 'foo', labels: { app: 'web', tier: 'x' }, serviceAccount: 'web' };
    const k8s = { ...peer, principal: 'spiffe://cluster.local/ns/foo/sa/web' };
    const reg = (list: RegisteredWorkload[]): WorkloadRegistry => ({
      synced: true,
      byAddress: () => undefined,
      byServiceAccount: () => list,
    });
    expect(resolveDestination({}, k8s, reg([a, { ...a }])).resolution).toBe('registry_principal');
    expect(resolveDestination({}, k8s, reg([a, more])).resolution).toBe('namespace_only');
    expect(resolveDestination({}, k8s, reg([more, a])).resolution).toBe('namespace_only');
    expect(resolveDestination({}, k8s, reg([])).resolution).toBe('namespace_only');
  });

  it("carries the registry entry's targets (Services, a Gateway) to the workload", () => {
    const targets = [{ group: '', kind: 'Service', name: 'web', namespace: 'foo' }];
    const r = resolveDestination({}, { ...peer, address: '10.0.0.9' }, answering({ ...FOO_WEB, targets }));
    expect(r.workload.targets).toEqual(targets);
    expect(resolveDestination({}, { ...peer, address: '10.0.0.9' }, answering(FOO_WEB)).workload.targets).toBe(
      undefined,
    );
  });
});

describe('unresolvedReason: each rule, both sides', () => {
  const set = (labelsMatter: boolean | undefined) =>
    ({ labelsMatter: labelsMatter === undefined ? undefined : () => labelsMatter }) as unknown as Parameters<
      typeof unresolvedReason
    >[0];
  it('an empty namespace is unknown whatever the resolution says', () => {
    const view = { workload: { namespace: '', labels: {} }, resolution: 'namespace_only' as const };
    expect(unresolvedReason(set(false), view)).toMatch(/unknown/);
  });
  it('"unresolved" is denied even when the view carries a namespace (the resolution alone decides)', () => {
    const view = { workload: { namespace: 'foo', labels: {} }, resolution: 'unresolved' as const };
    expect(unresolvedReason(set(false), view)).toMatch(/unknown/);
  });
  it('namespace only: denied unless the set says labels do not matter there', () => {
    const view = { workload: { namespace: 'foo', labels: {} }, resolution: 'namespace_only' as const };
    expect(unresolvedReason(set(false), view)).toBe(null);
    expect(unresolvedReason(set(true), view)).toMatch(/labels in namespace foo are unknown/);
    expect(unresolvedReason(set(undefined), view)).toMatch(/labels in namespace foo are unknown/);
  });
});

describe('labelsUnknown (the pipeline asks unresolvedReason only when this is true)', () => {
  // The pipeline skips the fail-closed check for resolutions this calls known: a wrong `false` would evaluate an
  // unknown workload against a guessed (empty) label set; a wrong `true` only costs a call that returns null.
  it('namespace_only and unresolved leave the labels unknown', () => {
    expect(labelsUnknown('namespace_only')).toBe(true);
    expect(labelsUnknown('unresolved')).toBe(true);
  });
  it.each<WorkloadResolution>(['context_extensions', 'destination_labels', 'registry_address', 'registry_principal'])(
    '%s gives known labels',
    (resolution) => expect(labelsUnknown(resolution)).toBe(false),
  );
});

describe('the workload name (for logs and explanations)', () => {
  it('is empty when no registry entry answered, and when the entry has no name', () => {
    expect(resolveDestination({}, peer, registry).name).toBe('');
    expect(resolveDestination({}, { ...peer, principal: 'spiffe://cluster.local/ns/foo/sa/web' }, registry)).toEqual({
      workload: { namespace: 'foo', labels: { app: 'httpbin' }, serviceAccount: 'web' },
      resolution: 'registry_principal',
      name: 'web-1',
    });
    const unnamed: RegisteredWorkload = { namespace: 'foo', labels: { app: 'x' } };
    const only: WorkloadRegistry = { synced: true, byAddress: () => unnamed, byServiceAccount: () => [] };
    expect(resolveDestination({}, { ...peer, address: '10.9.9.9' }, only).name).toBe('');
  });
});
