import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IstioOperator } from '@kubernetes-models/istio/install.istio.io/v1alpha1/IstioOperator';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';
import { validatePolicy } from '../../src/policy/index.js';
import {
  defaultOptions,
  type KubeObject,
  parseManifests,
  planPolicies,
  readClusterState,
  validateAuthorizationPolicy,
  validateStructure,
} from '../../src/reconciler/index.js';
import { checkMessage, loadEnvoyProtos } from './envoy-proto-check.js';

/** Every file in istio/ and envoy/ parses; Istio objects pass the same validation as generated policies. */

const root = join(import.meta.dirname, '../..');
const istioDir = join(root, 'istio');
const files = readdirSync(istioDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
const all: { file: string; obj: KubeObject }[] = files.flatMap((file) =>
  parseManifests(readFileSync(join(istioDir, file), 'utf8'), file).map((obj) => ({ file, obj })),
);
const find = (kind: string, name: string) => all.find((o) => o.obj.kind === kind && o.obj.metadata?.name === name)?.obj;

describe('istio/ deploy files', () => {
  it('has every piece a platform team applies', () => {
    const kinds = new Set(all.map((o) => o.obj.kind));
    for (const k of [
      'Namespace',
      'ServiceAccount',
      'Deployment',
      'Service',
      'ConfigMap',
      'IstioOperator',
      'PeerAuthentication',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'AuthorizationPolicy',
    ]) {
      expect(kinds, k).toContain(k);
    }
    for (const { file, obj } of all) {
      expect(obj.apiVersion, file).toBeTruthy();
      expect(obj.metadata?.name, file).toBeTruthy();
    }
  });

  it('Istio objects pass the CRD schema and istiod rules', () => {
    const istio = all.filter((o) => (o.obj.apiVersion ?? '').startsWith('security.istio.io/'));
    expect(istio.length).toBeGreaterThanOrEqual(7);
    for (const { file, obj } of istio) {
      expect(validateStructure(obj as Record<string, unknown>), `${file} ${obj.metadata?.name}`).toEqual([]);
      if (obj.kind === 'AuthorizationPolicy') {
        expect(validateAuthorizationPolicy(obj as Record<string, unknown>), file).toEqual([]);
        expect(validatePolicy(obj, null), file).toEqual([]);
      }
    }
    expect(find('PeerAuthentication', 'strict')?.spec).toEqual({ mtls: { mode: 'STRICT' } });
    const custom = all.find((o) => (o.obj.spec as { action?: string } | undefined)?.action === 'CUSTOM')?.obj;
    expect((custom!.spec as { provider: { name: string } }).provider.name).toBe(defaultOptions.provider);
    expect(find('AuthorizationPolicy', 'allow-nothing')).toMatchObject({
      metadata: { namespace: 'istio-system' },
      spec: {},
    });
  });

  it('the extension provider is a valid IstioOperator and points at the mesh-authz Service', () => {
    const op = find('IstioOperator', 'mesh-authz-provider')!;
    expect(() => new IstioOperator(op as never).validate()).not.toThrow();
    const provider = (op.spec as { meshConfig: { extensionProviders: Record<string, unknown>[] } }).meshConfig
      .extensionProviders[0] as {
      name: string;
      envoyExtAuthzGrpc: { service: string; port: number; failOpen: boolean };
    };
    expect(provider.name).toBe(defaultOptions.provider);
    expect(provider.envoyExtAuthzGrpc.failOpen).toBe(false);
    const svc = find('Service', 'mesh-authz')!;
    expect(provider.envoyExtAuthzGrpc.service).toBe(
      `${svc.metadata?.name}.${svc.metadata?.namespace}.svc.cluster.local`,
    );
    const ports = (svc.spec as { ports: { port: number }[] }).ports.map((p) => p.port);
    expect(ports).toContain(provider.envoyExtAuthzGrpc.port);
  });

  it('the server config in the ConfigMap is valid for the config schema and listens where the Service points', () => {
    const cm = find('ConfigMap', 'mesh-authz-config')!;
    const config = parseConfigText((cm['data'] as Record<string, string>)['config.yaml']!, 'istio/configmap.yaml');
    expect(config.server.listen).toBe('0.0.0.0:9191');
    expect(config.policy.paths).toContain('/etc/mesh-authz/policies/generated');
  });

  it('Deployments run non-root with a read-only root filesystem, probes and resources', () => {
    const deployments = all.filter((o) => o.obj.kind === 'Deployment');
    expect(deployments.map((d) => d.obj.metadata?.name).sort()).toEqual(['mesh-authz', 'mesh-authz-reconciler']);
    for (const { obj } of deployments) {
      const pod = (obj.spec as { template: { spec: Record<string, unknown> } }).template.spec;
      expect(pod['securityContext']).toMatchObject({ runAsNonRoot: true });
      for (const c of pod['containers'] as Record<string, Record<string, unknown>>[]) {
        expect(c['securityContext'], obj.metadata?.name).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        expect(c['livenessProbe'], obj.metadata?.name).toBeDefined();
        expect(c['readinessProbe'], obj.metadata?.name).toBeDefined();
        expect(c['resources'], obj.metadata?.name).toMatchObject({ requests: {}, limits: {} });
      }
    }
    const server = find('Deployment', 'mesh-authz')!;
    const volumes = (server.spec as { template: { spec: { volumes: { configMap?: { name: string } }[] } } }).template
      .spec.volumes;
    expect(volumes.map((v) => v.configMap?.name)).toContain('mesh-authz-generated');
  });

  it('RBAC grants the live reconciler what it calls, and writes only AuthorizationPolicies, Events, its ConfigMap', () => {
    const role = find('ClusterRole', 'mesh-authz-reconciler')!;
    const rules = role['rules'] as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    const can = (group: string, resource: string, verb: string) =>
      rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
    for (const res of ['services', 'namespaces']) for (const v of ['list', 'watch']) expect(can('', res, v)).toBe(true);
    for (const v of ['list', 'watch']) expect(can('security.istio.io', 'requestauthentications', v)).toBe(true);
    for (const v of ['list', 'create', 'patch', 'delete'])
      expect(can('security.istio.io', 'authorizationpolicies', v)).toBe(true);
    expect(can('', 'events', 'create')).toBe(true);
    const writes = rules.filter((r) => r.verbs.some((v) => ['create', 'patch', 'delete', 'update'].includes(v)));
    expect(writes.flatMap((r) => r.resources).sort()).toEqual(['authorizationpolicies', 'events']);
    const nsRole = find('Role', 'mesh-authz-reconciler')!;
    expect(nsRole['rules']).toEqual([
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['mesh-authz-generated'], verbs: ['get', 'patch'] },
    ]);
  });

  it('the example annotated Service reconciles cleanly', () => {
    const plan = planPolicies(readClusterState(join(istioDir, 'example-annotated-service.yaml')), defaultOptions);
    expect(plan.errors).toEqual([]);
    expect(plan.policies.map((p) => `${p.target}:${p.object.metadata.name}`)).toEqual([
      'mesh:mesh-authz-orders',
      'mesh:mesh-authz-orders-custom',
      'mesh-authz:mesh-authz-orders-server',
    ]);
  });
});

describe('envoy/envoy.yaml', () => {
  const config = parse(readFileSync(join(root, 'envoy', 'envoy.yaml'), 'utf8')) as Record<string, unknown>;
  const protos = loadEnvoyProtos([
    'envoy/config/bootstrap/v3/bootstrap.proto',
    'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
    'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
    'envoy/extensions/filters/http/router/v3/router.proto',
    'envoy/extensions/transport_sockets/tls/v3/tls.proto',
    'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  ]);

  it("matches Envoy's Bootstrap proto field by field (typed configs included)", () => {
    expect(
      checkMessage(protos, protos.lookupType('envoy.config.bootstrap.v3.Bootstrap'), config, 'envoy.yaml'),
    ).toEqual([]);
  });

  it('the checker rejects a misspelled field (it can fail)', () => {
    const bad = structuredClone(config);
    (bad['static_resources'] as { clusters: Record<string, unknown>[] }).clusters[0]!['conect_timeout'] = '1s';
    expect(checkMessage(protos, protos.lookupType('envoy.config.bootstrap.v3.Bootstrap'), bad, 'envoy.yaml')).toEqual([
      'envoy.yaml.static_resources.clusters[0].conect_timeout: no such field on envoy.config.cluster.v3.Cluster',
    ]);
    // Inside a typed_config Any (the ext_authz filter), too.
    const bad2 = structuredClone(config);
    const text = JSON.stringify(bad2).replace('"failure_mode_allow":false', '"failure_mode_alow":false');
    const issues = checkMessage(
      protos,
      protos.lookupType('envoy.config.bootstrap.v3.Bootstrap'),
      JSON.parse(text),
      'e',
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(
      'failure_mode_alow: no such field on envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
    );
  });

  it('asks mesh-authz over mTLS (h2), fails closed, and sends per-route context extensions', () => {
    const text = JSON.stringify(config);
    const clusters = (config['static_resources'] as { clusters: Record<string, unknown>[] }).clusters;
    const authz = clusters.find((c) => c['name'] === 'ext_authz')!;
    const tls = (authz['transport_socket'] as { typed_config: Record<string, unknown> }).typed_config;
    expect(tls['@type']).toContain('UpstreamTlsContext');
    const common = tls['common_tls_context'] as Record<string, unknown>;
    expect(common['alpn_protocols']).toEqual(['h2']);
    expect(common['tls_certificates']).toBeDefined();
    expect(text).toContain('"failure_mode_allow":false');
    expect(text).toContain('"include_peer_certificate":true');
    expect(text).toContain('"context_extensions":{"namespace":"shop","app":"orders"}');
  });
});
