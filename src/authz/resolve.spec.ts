import { describe, expect, it } from 'vitest';
import { policy, policySet } from '../../test/conformance/policy-fixtures.js';
import { parseConfigText } from '../config/load.js';
import { configWorkloadRegistry } from '../sources/config-registry.js';
import type { PeerInput } from './input.js';
import { resolveDestination, unresolvedReason } from './resolve.js';
import { combineRegistries, EMPTY_REGISTRY } from './workloads.js';

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
    const opaque = { generation: 1, evaluate: () => ({}) as never, attributesFor: () => ({}) as never };
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
