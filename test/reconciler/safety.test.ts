import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { reconcileCommand } from '../../src/cli/reconcile.js';
import { policyEngine } from '../../src/discovery/engine.js';
import {
  type ClusterState,
  defaultOptions,
  type KubeObject,
  planPolicies,
  type ReconcileOptions,
  type ServiceObject,
} from '../../src/reconciler/index.js';

/**
 * The reconciler never loses or widens a policy: name collisions, the mesh root namespace, RequestAuthentications
 * attached with targetRefs, dry-run Services in default-deny namespaces, and hashes that depend on nothing but
 * what the generated object depends on.
 */

const FROM = 'authz.mesh-authz.io/allow-from';
const GROUPS = 'authz.mesh-authz.io/allow-groups';
const MODE = 'authz.mesh-authz.io/mode';

function svc(namespace: string, name: string, annotations: Record<string, string>): ServiceObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, annotations },
    spec: { selector: { app: name } },
  };
}

function state(services: ServiceObject[], extra: Partial<ClusterState> = {}): ClusterState {
  return { services, requestAuthentications: [], namespaces: [], authorizationPolicies: [], ...extra };
}

const names = (plan: ReturnType<typeof planPolicies>) =>
  plan.policies.map((p) => `${p.target}:${p.object.metadata.namespace}/${p.object.metadata.name}`);

describe('generated names never collide silently', () => {
  it('refuses both Services when card delegates to mesh-authz-card-custom and card-custom asks for it too', () => {
    const plan = planPolicies(
      state([
        svc('bank', 'card', { [FROM]: 'bank/web', [GROUPS]: 'cardholders' }),
        svc('bank', 'card-custom', { [FROM]: 'bank/web' }),
        svc('bank', 'ledger', { [FROM]: 'bank/web' }),
      ]),
      defaultOptions,
    );
    expect(names(plan)).toEqual(['mesh:bank/mesh-authz-ledger']);
    expect(plan.held).toEqual(new Set(['bank/card', 'bank/card-custom']));
    const conflicts = plan.errors.filter((e) => e.code === 'name_conflict');
    expect(conflicts.map((e) => e.service)).toEqual(['bank/card', 'bank/card-custom']);
    expect(conflicts[0]?.message).toContain(
      'bank/mesh-authz-card-custom would also be generated for Service/bank/card-custom',
    );
    expect(conflicts[1]?.message).toContain('Service/bank/card');
  });

  it('refuses a Service named default-deny in a default-deny namespace, and keeps the allow-nothing', () => {
    const plan = planPolicies(state([svc('bank', 'default-deny', { [FROM]: 'bank/web' })]), {
      ...defaultOptions,
      defaultDenyNamespaces: ['bank'],
    });
    expect(names(plan)).toEqual(['mesh:bank/mesh-authz-default-deny']);
    expect(plan.policies[0]?.object.spec.rules).toBeUndefined();
    expect(plan.errors).toEqual([expect.objectContaining({ code: 'name_conflict', service: 'bank/default-deny' })]);
    expect(plan.errors[0]?.message).toContain('Namespace/bank');
  });

  it('GitOps: exits 1, names both, writes nothing for them and keeps their previous files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mesh-authz-collide-'));
    const out = join(dir, 'out');
    const input = join(dir, 'in.yaml');
    const write = (docs: ServiceObject[]) => writeFileSync(input, docs.map((d) => JSON.stringify(d)).join('\n---\n'));
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
      stderr.push(String(s));
      return true;
    });
    try {
      write([svc('bank', 'card', { [FROM]: 'bank/web', [GROUPS]: 'cardholders' })]);
      expect(await reconcileCommand.run(['--from', input, '--out', out])).toBe(0);
      const before = readdirSync(join(out, 'mesh')).sort();
      expect(before).toEqual(['bank.mesh-authz-card-custom.yaml', 'bank.mesh-authz-card.yaml']);
      write([
        svc('bank', 'card', { [FROM]: 'bank/web', [GROUPS]: 'cardholders' }),
        svc('bank', 'card-custom', { [FROM]: 'bank/web' }),
      ]);
      stderr.length = 0;
      expect(await reconcileCommand.run(['--from', input, '--out', out])).toBe(1);
      expect(stderr.join('')).toContain('Service bank/card: AuthorizationPolicy bank/mesh-authz-card-custom');
      expect(stderr.join('')).toContain('Service bank/card-custom:');
      expect(stderr.join('')).toContain('0 created, 0 updated, 0 removed');
      // card's CUSTOM delegation (its group check) is still the one on disk.
      expect(readdirSync(join(out, 'mesh')).sort()).toEqual(before);
      expect(existsSync(join(out, 'mesh-authz', 'bank.mesh-authz-card-server.yaml'))).toBe(true);
    } finally {
      vi.restoreAllMocks();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the mesh root namespace', () => {
  const opts: ReconcileOptions = { ...defaultOptions, rootNamespace: 'istio-system' };

  it('refuses annotated Services there: their selector would match workloads in every namespace', () => {
    const plan = planPolicies(
      state([
        svc('istio-system', 'prometheus', { [FROM]: 'monitoring/grafana' }),
        svc('ops', 'api', { [FROM]: 'ops/web' }),
      ]),
      opts,
    );
    expect(names(plan)).toEqual(['mesh:ops/mesh-authz-api']);
    expect(plan.errors).toEqual([
      expect.objectContaining({ code: 'root_namespace', service: 'istio-system/prometheus' }),
    ]);
    expect(plan.errors[0]?.message).toContain('applies to every namespace');
  });

  it('never generates a default-deny there, from --default-deny, a flag or a Namespace annotation', () => {
    const ns: KubeObject = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'istio-system', annotations: { 'authz.mesh-authz.io/default-deny': 'true' } },
    };
    for (const o of [
      { ...opts, defaultDenyAll: true },
      { ...opts, defaultDenyNamespaces: ['istio-system'] },
    ]) {
      const plan = planPolicies(
        state([svc('istio-system', 'prometheus', { [FROM]: 'ops/x' }), svc('ops', 'api', { [FROM]: 'ops/web' })], {
          namespaces: [ns],
        }),
        o,
      );
      expect(names(plan).filter((n) => n.includes('istio-system'))).toEqual([]);
      expect(plan.errors.map((e) => e.code)).toContain('root_namespace');
    }
    const all = planPolicies(state([svc('ops', 'api', { [FROM]: 'ops/web' })]), { ...opts, defaultDenyAll: true });
    expect(names(all)).toEqual(['mesh:ops/mesh-authz-api', 'mesh:ops/mesh-authz-default-deny']);
    expect(all.errors).toEqual([]);
  });
});

describe('RequestAuthentication scope', () => {
  const ra = (spec: Record<string, unknown>, namespace = 'bank'): KubeObject => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'RequestAuthentication',
    metadata: { name: 'jwt', namespace },
    spec: { jwtRules: [{ issuer: 'https://idp.example' }], ...spec },
  });
  const actions = (ras: KubeObject[]) =>
    planPolicies(
      state([svc('bank', 'card', { [FROM]: 'bank/web', [GROUPS]: 'cardholders' })], {
        requestAuthentications: ras,
      }),
      defaultOptions,
    ).policies.map((p) => `${p.target}:${p.object.metadata.name}:${p.object.spec.action}`);
  const delegated = [
    'mesh:mesh-authz-card:ALLOW',
    'mesh:mesh-authz-card-custom:CUSTOM',
    'mesh-authz:mesh-authz-card-server:ALLOW',
  ];

  it('a RequestAuthentication attached with targetRefs (a Gateway) does not cover the workload', () => {
    const gateway = [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' }];
    expect(actions([ra({ targetRefs: gateway })])).toEqual(delegated);
    expect(actions([ra({ targetRef: gateway[0] })])).toEqual(delegated);
    expect(actions([ra({ targetRefs: gateway }, 'istio-system')])).toEqual(delegated);
  });

  it('a selector, namespace-wide or root one does', () => {
    for (const r of [ra({ selector: { matchLabels: { app: 'card' } } }), ra({}), ra({}, 'istio-system')]) {
      expect(actions([r])).toEqual(['mesh:mesh-authz-card:ALLOW']);
    }
  });
});

describe('dry-run Services and default-deny', () => {
  it('a namespace whose only annotated Service is dry-run does not become allow-nothing under --default-deny', () => {
    const plan = planPolicies(state([svc('jobs', 'runner', { [FROM]: 'jobs/web', [MODE]: 'dry-run' })]), {
      ...defaultOptions,
      defaultDenyAll: true,
    });
    expect(names(plan)).toEqual(['mesh:jobs/mesh-authz-runner']);
    expect(plan.policies[0]?.object.metadata.annotations['istio.io/dry-run']).toBe('true');
  });

  it('in a default-deny namespace a staged Service stays reachable until it is enforced', () => {
    const plan = planPolicies(
      state([
        svc('jobs', 'runner', { [FROM]: 'jobs/web', [MODE]: 'dry-run' }),
        svc('jobs', 'api', { [FROM]: 'jobs/web' }),
      ]),
      { ...defaultOptions, defaultDenyAll: true },
    );
    expect(names(plan)).toEqual([
      'mesh:jobs/mesh-authz-api',
      'mesh:jobs/mesh-authz-default-deny',
      'mesh:jobs/mesh-authz-runner',
      'mesh:jobs/mesh-authz-runner-staged',
    ]);
    const entries = plan.policies.map((p) => ({
      policy: p.object,
      source: null,
      dryRun: p.object.metadata.annotations['istio.io/dry-run'] === 'true',
    }));
    const set = policyEngine.compile(entries, {
      rootNamespace: 'istio-system',
      pathNormalization: 'BASE',
      trustDomain: 'cluster.local',
      trustDomainAliases: [],
    });
    const request = (from: string) => ({
      method: 'GET',
      path: '/',
      host: '',
      headers: {},
      sourceIp: '',
      remoteIp: '',
      destinationIp: '',
      destinationPort: 80,
      sni: '',
      peer: {
        spiffeId: `spiffe://cluster.local/ns/jobs/sa/${from}`,
        trustDomain: 'cluster.local',
        namespace: 'jobs',
        serviceAccount: from,
        expiresAt: Number.MAX_SAFE_INTEGER,
        credentialId: from,
      },
      user: null,
      filterMetadata: {},
    });
    const runner = { namespace: 'jobs', labels: { app: 'runner' } };
    const api = { namespace: 'jobs', labels: { app: 'api' } };
    // Staged: the caller the dry-run policy would deny still gets through; enforced api denies it.
    expect(set.evaluate(runner, request('stranger')).allowed).toBe(true);
    expect(set.evaluate(api, request('stranger')).allowed).toBe(false);
    expect(set.evaluate(api, request('web')).allowed).toBe(true);
  });
});

describe('the source hash depends on what the object depends on, nothing else', () => {
  const services = [
    svc('shop', 'orders', { [FROM]: 'shop/web' }),
    svc('shop', 'wallet', { [FROM]: 'shop/web', [GROUPS]: 'g' }),
  ];
  const hashes = (o: ReconcileOptions) =>
    planPolicies(state(services), o)
      .policies.filter((p) => p.object.metadata.namespace === 'shop')
      .map((p) => p.object.metadata.annotations['authz.mesh-authz.io/source-hash']);

  it('operational flags (live resync, debounce, namespaces, logger) do not change it', () => {
    const live = (resyncMs: number) =>
      ({
        ...defaultOptions,
        namespaces: [],
        fieldManager: 'mesh-authz',
        authzNamespace: 'mesh-authz',
        configMapName: 'x',
        debounceMs: 200,
        resyncMs,
        log: () => {},
      }) as ReconcileOptions;
    expect(hashes(live(300_000))).toEqual(hashes(live(60_000)));
    // Live and GitOps hash the same input the same way.
    expect(hashes(live(300_000))).toEqual(hashes(defaultOptions));
    // An unrelated namespace's default-deny does not touch shop's objects.
    expect(hashes({ ...defaultOptions, defaultDenyNamespaces: ['other'] })).toEqual(hashes(defaultOptions));
  });

  it('what the object depends on does', () => {
    expect(hashes({ ...defaultOptions, trustDomain: 'td.example' })).not.toEqual(hashes(defaultOptions));
    expect(hashes({ ...defaultOptions, provider: 'other' })).not.toEqual(hashes(defaultOptions));
  });
});
