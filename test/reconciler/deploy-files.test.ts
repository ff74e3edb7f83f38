import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkCommand } from '../../src/cli/check.js';
import { parseConfigText } from '../../src/config/load.js';
import { validatePolicy } from '../../src/policy/index.js';
import {
  defaultOptions,
  planPolicies,
  readClusterState,
  validateAuthorizationPolicy,
  validateStructure,
} from '../../src/reconciler/index.js';
import { capture } from '../support/capture.js';
import { type K8sObject, type Rendered, renderKustomization } from '../support/kustomize.js';
import { schemaIssues } from './k8s-schemas.js';

/**
 * istio/ is a kustomize base that installs mesh-authz only; mesh-config/ and examples/ sit beside it. The base is
 * rendered in-process (test/support/kustomize.ts) and every object is validated against the Kubernetes and Istio
 * schemas; then the fields that make the install work are read back.
 */

const root = join(import.meta.dirname, '../..');
const istioDir = join(root, 'istio');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const base = renderKustomization(istioDir);
const find = (kind: string, name: string): K8sObject => {
  const hit = base.find((r) => r.obj.kind === kind && r.obj.metadata?.name === name)?.obj;
  if (!hit) throw new Error(`${kind}/${name} not rendered`);
  return hit;
};
type Container = Record<string, unknown> & {
  name: string;
  image: string;
  ports?: { name: string; containerPort: number }[];
};
type PodSpec = Record<string, unknown> & { containers: Container[]; volumes: Record<string, unknown>[] };
const podSpec = (name: string) => (find('Deployment', name)['spec'] as { template: { spec: PodSpec } }).template.spec;
const yamlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && !f.startsWith('kustomization'))
    .map((f) => join(dir, f));
const tmp = mkdtempSync(join(tmpdir(), 'mesh-authz-kustomize-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('istio/ (kustomize base)', () => {
  it('renders objects that all pass the Kubernetes and Istio schemas', () => {
    expect(base.length).toBeGreaterThanOrEqual(15);
    for (const { source, obj } of base) expect(schemaIssues(obj), `${source} ${obj.kind}`).toEqual([]);
    const kinds = new Set(base.map((r) => r.obj.kind));
    for (const k of [
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'ConfigMap',
      'Deployment',
      'Service',
      'PodDisruptionBudget',
      'NetworkPolicy',
      'PeerAuthentication',
      'AuthorizationPolicy',
    ])
      expect(kinds, k).toContain(k);
  });

  it('the schema check can fail (a wrongly typed field is refused)', () => {
    const bad = structuredClone(find('Deployment', 'mesh-authz'));
    (bad['spec'] as Record<string, unknown>)['replicas'] = 'two';
    expect(schemaIssues(bad).join()).toContain('replicas');
    const badPolicy = structuredClone(find('AuthorizationPolicy', 'mesh-authz-callers'));
    (badPolicy['spec'] as Record<string, unknown>)['action'] = 'PERMIT';
    expect(schemaIssues(badPolicy)).not.toEqual([]);
  });

  it('installs mesh-authz only: everything namespaced is in mesh-authz, no mesh-wide policy, no demo', () => {
    for (const { source, obj } of base) {
      if (obj.kind?.startsWith('Cluster') || obj.kind === 'Namespace') continue;
      expect(obj.metadata?.namespace, `${source} ${obj.kind}/${obj.metadata?.name}`).toBe('mesh-authz');
    }
    expect(base.map((r) => r.obj.kind)).not.toContain('IstioOperator');
    expect(base.filter((r) => r.obj.kind === 'Namespace').map((r) => r.obj.metadata?.name)).toEqual(['mesh-authz']);
  });

  it('the image is a kustomize images: entry (the package version) that an overlay overrides, with patches', () => {
    for (const name of ['mesh-authz', 'mesh-authz-reconciler'])
      expect(podSpec(name).containers[0]!.image).toBe(`mesh-authz:${pkg.version}`);
    const overlay = join(tmp, 'overlay');
    mkdirSync(overlay, { recursive: true });
    writeFileSync(
      join(overlay, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        `resources: [${relative(overlay, istioDir)}]`,
        'images: [{ name: mesh-authz, newName: registry.example/platform/mesh-authz, newTag: "1.2.3" }]',
        'patches:',
        '  - patch: |',
        '      apiVersion: apps/v1',
        '      kind: Deployment',
        '      metadata: { name: mesh-authz, namespace: mesh-authz }',
        '      spec:',
        '        replicas: 3',
        '        template:',
        '          spec:',
        '            containers:',
        '              - name: mesh-authz',
        '                resources: { limits: { memory: 1Gi } }',
        '  - target: { kind: PodDisruptionBudget, name: mesh-authz }',
        '    patch: |',
        '      - { op: replace, path: /spec/minAvailable, value: 2 }',
      ].join('\n'),
    );
    const rendered = renderKustomization(overlay);
    const get = (kind: string, name: string) =>
      rendered.find((r: Rendered) => r.obj.kind === kind && r.obj.metadata?.name === name)!.obj as Record<
        string,
        // biome-ignore lint/suspicious/noExplicitAny: reading back a rendered manifest in a test
        any
      >;
    const server = get('Deployment', 'mesh-authz');
    expect(server['spec'].replicas).toBe(3);
    const c = server['spec'].template.spec.containers[0];
    expect(c.image).toBe('registry.example/platform/mesh-authz:1.2.3');
    expect(c.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '1Gi' } });
    expect(c.readinessProbe).toBeDefined(); // merged, not replaced
    expect(get('Deployment', 'mesh-authz-reconciler')['spec'].template.spec.containers[0].image).toBe(
      'registry.example/platform/mesh-authz:1.2.3',
    );
    expect(get('PodDisruptionBudget', 'mesh-authz')['spec'].minAvailable).toBe(2);
    // istio/monitoring's downward-API patch, as a user's overlay applies it: merged into the container's env.
    const patch = readFileSync(join(istioDir, 'monitoring', 'downward-api-patch.yaml'), 'utf8');
    writeFileSync(
      join(overlay, 'kustomization.yaml'),
      `resources: [${relative(overlay, istioDir)}]\npatches:\n  - patch: |\n${patch.replace(/^/gm, '      ')}\n`.replace(
        /^/,
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n',
      ),
    );
    const monitored = renderKustomization(overlay).find(
      (r) => r.obj.kind === 'Deployment' && r.obj.metadata?.name === 'mesh-authz',
    )!;
    const env = (monitored.obj['spec'] as { template: { spec: PodSpec } }).template.spec.containers[0]!['env'] as {
      name: string;
    }[];
    expect(env.map((e) => e.name)).toEqual([
      'NODE_ENV',
      'K8S_POD_NAME',
      'K8S_POD_UID',
      'K8S_NAMESPACE_NAME',
      'K8S_NODE_NAME',
    ]);
    expect(schemaIssues(monitored.obj)).toEqual([]);
    for (const { obj } of rendered) expect(schemaIssues(obj)).toEqual([]);
  });

  it('the config (a real file with the schema comment) is valid, and ports line up with the Service and probes', () => {
    const cm = find('ConfigMap', 'mesh-authz-config');
    const text = (cm['data'] as Record<string, string>)['config.yaml']!;
    expect(text.startsWith('# yaml-language-server: $schema=../../schemas/config.schema.json\n')).toBe(true);
    const config = parseConfigText(text, 'istio/config/config.yaml');
    expect(config.server.listen).toBe('0.0.0.0:9191');
    expect(config.admin.listen).toBe('0.0.0.0:9192');
    expect(config.policy.paths).toEqual(['/etc/mesh-authz/policies/static', '/etc/mesh-authz/policies/generated']);
    const c = podSpec('mesh-authz').containers[0]!;
    const ports = Object.fromEntries(c.ports!.map((p) => [p.name, p.containerPort]));
    expect(ports).toEqual({ 'grpc-authz': 9191, 'http-admin': 9192 });
    const svc = (find('Service', 'mesh-authz')['spec'] as { ports: { port: number; targetPort: string }[] }).ports;
    expect(svc.map((p) => [p.port, p.targetPort])).toEqual([
      [9191, 'grpc-authz'],
      [9192, 'http-admin'],
    ]);
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'])
      expect((c[probe] as { httpGet: { port: string } }).httpGet.port, probe).toBe('http-admin');
    const args = c['args'] as string[];
    const mounts = c['volumeMounts'] as { name: string; mountPath: string }[];
    expect(args).toEqual(['serve', '--config', '/etc/mesh-authz/config/config.yaml']);
    for (const path of config.policy.paths) expect(mounts.map((m) => m.mountPath)).toContain(path);
    expect(mounts.find((m) => m.mountPath === '/etc/mesh-authz/config')?.name).toBe('config');
  });

  it('Deployments: non-root, read-only root, probes, resources; the server drains within its grace period', () => {
    for (const name of ['mesh-authz', 'mesh-authz-reconciler']) {
      const pod = podSpec(name);
      expect(pod['securityContext'], name).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      for (const c of pod.containers) {
        expect(c['securityContext'], name).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        expect(c['livenessProbe'], name).toBeDefined();
        expect(c['readinessProbe'], name).toBeDefined();
        expect(c['resources'], name).toMatchObject({ requests: { cpu: expect.any(String) }, limits: {} });
      }
    }
    const server = podSpec('mesh-authz');
    const config = parseConfigText(
      (find('ConfigMap', 'mesh-authz-config')['data'] as Record<string, string>)['config.yaml']!,
      'config.yaml',
    );
    // No preStop sleep: the server answers on for server.shutdownGraceMs after SIGTERM, then drains; both must fit.
    expect(server.containers[0]!['lifecycle']).toBeUndefined();
    expect(server['terminationGracePeriodSeconds'] as number).toBeGreaterThan(
      (config.server.shutdownGraceMs + config.server.drainTimeoutMs) / 1000,
    );
    // Room for the offline state (an emptyDir) and the token the read-only RBAC needs.
    const snapshots = (server.containers[0]!['volumeMounts'] as { name: string; mountPath: string }[]).find(
      (m) => m.mountPath === config.kubernetes.snapshotDir,
    );
    expect(server.volumes.find((v) => v['name'] === snapshots?.name)).toMatchObject({ emptyDir: {} });
    expect(server['automountServiceAccountToken']).toBe(true);
    expect(server.volumes.map((v) => (v['configMap'] as { name?: string } | undefined)?.name)).toEqual(
      expect.arrayContaining(['mesh-authz-config', 'mesh-authz-policies', 'mesh-authz-generated']),
    );
  });

  it('the PodDisruptionBudget keeps a server up and selects the server pods', () => {
    const spec = find('PodDisruptionBudget', 'mesh-authz')['spec'] as { minAvailable: number; selector: unknown };
    const deploy = find('Deployment', 'mesh-authz')['spec'] as { replicas: number; selector: unknown };
    expect(spec.selector).toEqual(deploy.selector);
    expect(spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(spec.minAvailable).toBeLessThan(deploy.replicas);
  });

  it('NetworkPolicy: gRPC from any namespace, admin only from this namespace and labelled scrapers', () => {
    type Peer = { namespaceSelector?: { matchLabels?: Record<string, string> }; podSelector?: object };
    type Rule = { from: Peer[]; ports: { port: number }[] };
    const np = find('NetworkPolicy', 'mesh-authz')['spec'] as {
      podSelector: unknown;
      ingress: Rule[];
      policyTypes: string[];
    };
    expect(np.policyTypes).toEqual(['Ingress']);
    expect(np.podSelector).toEqual((find('Deployment', 'mesh-authz')['spec'] as { selector: unknown }).selector);
    const allowedFrom = (port: number) =>
      np.ingress.filter((r) => r.ports.some((p) => p.port === port)).flatMap((r) => r.from);
    expect(allowedFrom(9191)).toEqual([{ namespaceSelector: {} }]);
    const admin = allowedFrom(9192);
    expect(admin).toContainEqual({ podSelector: {} });
    // Must not match: the admin port is never open to every namespace.
    expect(admin.some((p) => p.namespaceSelector && !p.namespaceSelector.matchLabels)).toBe(false);
    expect(allowedFrom(9901)).toEqual([]);
  });

  it('RBAC: the reconciler writes only AuthorizationPolicies, Events, its ConfigMap; the server reads, and records Events', () => {
    type R = { apiGroups: string[]; resources: string[]; verbs: string[] };
    const rules = (name: string) => find('ClusterRole', name)['rules'] as R[];
    const can = (rs: R[], group: string, resource: string, verb: string) =>
      rs.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
    const rec = rules('mesh-authz-reconciler');
    for (const res of ['services', 'namespaces'])
      for (const v of ['list', 'watch']) expect(can(rec, '', res, v)).toBe(true);
    for (const v of ['list', 'watch']) expect(can(rec, 'security.istio.io', 'requestauthentications', v)).toBe(true);
    for (const v of ['list', 'create', 'patch', 'delete'])
      expect(can(rec, 'security.istio.io', 'authorizationpolicies', v)).toBe(true);
    expect(can(rec, '', 'events', 'create')).toBe(true);
    const writes = rec.filter((r) => r.verbs.some((v) => ['create', 'patch', 'delete', 'update'].includes(v)));
    expect(writes.flatMap((r) => r.resources).sort()).toEqual(['authorizationpolicies', 'events']);
    expect(find('Role', 'mesh-authz-reconciler')['rules']).toEqual([
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['mesh-authz-generated'], verbs: ['get', 'patch'] },
    ]);
    const server = rules('mesh-authz-server');
    for (const v of ['get', 'list', 'watch']) {
      expect(can(server, '', 'pods', v)).toBe(true);
      expect(can(server, 'security.istio.io', 'authorizationpolicies', v)).toBe(true);
    }
    // The server writes nothing but Events (on policies it refuses).
    const serverWrites = server.filter((r) => r.verbs.some((v) => !['get', 'list', 'watch'].includes(v)));
    expect(serverWrites.flatMap((r) => r.resources)).toEqual(['events']);
    for (const [role, sa] of [
      ['mesh-authz-server', 'mesh-authz'],
      ['mesh-authz-reconciler', 'mesh-authz-reconciler'],
    ] as const) {
      const binding = find('ClusterRoleBinding', role) as unknown as {
        subjects: { name: string }[];
        roleRef: { name: string };
      };
      expect(binding.roleRef.name).toBe(role);
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa, namespace: 'mesh-authz' }]);
    }
  });
});

describe('istio/mesh-config and istio/examples', () => {
  const meshFiles = yamlFiles(join(istioDir, 'mesh-config'));
  const exampleObjects = [
    ...yamlFiles(join(istioDir, 'examples')),
    ...yamlFiles(join(istioDir, 'examples', 'policies')),
  ].flatMap((f) => readClusterStateObjects(f));

  it('the extension provider (IstioOperator and Helm values) points at the mesh-authz Service, fails closed', () => {
    const op = parse(readFileSync(join(istioDir, 'mesh-config', 'istio-operator.yaml'), 'utf8')) as K8sObject;
    expect(schemaIssues(op)).toEqual([]);
    const helm = parse(readFileSync(join(istioDir, 'mesh-config', 'istiod-values.yaml'), 'utf8')) as {
      meshConfig: unknown;
    };
    expect(meshFiles).toHaveLength(2);
    expect((op['spec'] as { meshConfig: unknown }).meshConfig).toEqual(helm.meshConfig);
    const provider = (helm.meshConfig as { extensionProviders: unknown[] }).extensionProviders[0] as {
      name: string;
      envoyExtAuthzGrpc: { service: string; port: number; failOpen: boolean };
    };
    expect(provider.name).toBe(defaultOptions.provider);
    expect(provider.envoyExtAuthzGrpc.failOpen).toBe(false);
    const svc = find('Service', 'mesh-authz');
    expect(provider.envoyExtAuthzGrpc.service).toBe(
      `${svc.metadata?.name}.${svc.metadata?.namespace}.svc.cluster.local`,
    );
    expect((svc['spec'] as { ports: { port: number }[] }).ports.map((p) => p.port)).toContain(
      provider.envoyExtAuthzGrpc.port,
    );
  });

  it('every AuthorizationPolicy (base and examples) passes Istio’s schema and istiod’s rules', () => {
    const policies = [...base.map((r) => r.obj), ...exampleObjects].filter((o) => o.kind === 'AuthorizationPolicy');
    expect(policies.length).toBeGreaterThanOrEqual(5);
    for (const obj of [...base.map((r) => r.obj), ...exampleObjects]) {
      if (!(obj.apiVersion ?? '').startsWith('security.istio.io/')) continue;
      expect(validateStructure(obj), obj.metadata?.name).toEqual([]);
      expect(schemaIssues(obj), obj.metadata?.name).toEqual([]);
      if (obj.kind !== 'AuthorizationPolicy') continue;
      expect(validateAuthorizationPolicy(obj), obj.metadata?.name).toEqual([]);
      expect(validatePolicy(obj, null), obj.metadata?.name).toEqual([]);
    }
    const examples = renderKustomization(join(istioDir, 'examples'));
    for (const { obj } of examples) expect(schemaIssues(obj)).toEqual([]);
    const custom = examples.find((r) => (r.obj['spec'] as { action?: string } | undefined)?.action === 'CUSTOM')!.obj;
    expect((custom['spec'] as { provider: { name: string } }).provider.name).toBe(defaultOptions.provider);
  });

  it('the first CUSTOM policy walk-through: `check` with the install’s config decides both ways', async () => {
    const run = (req: string) =>
      capture(() =>
        checkCommand.run([
          '-c',
          join(istioDir, 'config', 'config.yaml'),
          '-p',
          join(istioDir, 'examples', 'policies'),
          '-r',
          join(istioDir, 'examples', 'requests', req),
        ]),
      );
    const allowed = await run('orders-admin-allowed.json');
    expect(allowed.code).toBe(0);
    expect(JSON.parse(allowed.out)).toMatchObject({ allowed: true, policy: 'shop/orders-admin' });
    const denied = await run('orders-admin-denied.json');
    expect(denied.code).toBe(0);
    expect(JSON.parse(denied.out)).toMatchObject({ allowed: false, httpStatus: 403 });
  });

  it('the example annotated Service reconciles cleanly', () => {
    const plan = planPolicies(readClusterState(join(istioDir, 'examples', 'annotated-service.yaml')), defaultOptions);
    expect(plan.errors).toEqual([]);
    expect(plan.policies.map((p) => `${p.target}:${p.object.metadata.name}`)).toEqual([
      'mesh:mesh-authz-orders',
      'mesh:mesh-authz-orders-custom',
      'mesh-authz:mesh-authz-orders-server',
    ]);
  });
});

function readClusterStateObjects(file: string): K8sObject[] {
  return readFileSync(file, 'utf8')
    .split(/^---$/m)
    .map((d) => parse(d) as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}
