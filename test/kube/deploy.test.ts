import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfigText } from '../../src/config/load.js';

/** The deploy files give the server exactly what its Kubernetes sources need: read-only informers, Events, a snapshot dir. */

type Doc = { kind: string; metadata: { name: string }; [k: string]: unknown };
const docs = (file: string) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Doc);

describe('istio/ for the Kubernetes sources', () => {
  it('grants the server read-only get/list/watch on pods, services, authorizationpolicies and create/patch events', () => {
    const rbac = docs('istio/rbac.yaml');
    const role = rbac.find((d) => d.kind === 'ClusterRole' && d.metadata.name === 'mesh-authz-server') as unknown as {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    const grants = new Map<string, string[]>();
    for (const r of role.rules) {
      for (const g of r.apiGroups) for (const res of r.resources) grants.set(`${g}/${res}`, [...r.verbs].sort());
    }
    expect(Object.fromEntries(grants)).toEqual({
      '/pods': ['get', 'list', 'watch'],
      '/services': ['get', 'list', 'watch'],
      'security.istio.io/authorizationpolicies': ['get', 'list', 'watch'],
      '/events': ['create', 'patch'],
    });
    const binding = rbac.find((d) => d.kind === 'ClusterRoleBinding' && d.metadata.name === 'mesh-authz-server');
    expect(binding?.['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'mesh-authz', namespace: 'mesh-authz' }]);
  });

  it('mounts an emptyDir where the ConfigMap config keeps its snapshots, and a service account token', () => {
    // The ConfigMap mesh-authz-config is generated from this file (istio/kustomization.yaml configMapGenerator).
    const config = parseConfigText(
      readFileSync('istio/config/config.yaml', 'utf8'),
      '/etc/mesh-authz/config/config.yaml',
    );
    expect(config.kubernetes).toMatchObject({ enabled: true, workloads: true });
    const server = docs('istio/deployment.yaml').find((d) => d.metadata.name === 'mesh-authz') as unknown as {
      spec: { template: { spec: Record<string, unknown> } };
    };
    const pod = server.spec.template.spec as {
      automountServiceAccountToken: boolean;
      containers: { volumeMounts: { name: string; mountPath: string }[] }[];
      volumes: { name: string; emptyDir?: object }[];
    };
    expect(pod.automountServiceAccountToken).toBe(true);
    const mount = pod.containers[0]!.volumeMounts.find((m) => m.mountPath === config.kubernetes.snapshotDir);
    expect(pod.volumes.find((v) => v.name === mount?.name)?.emptyDir).toBeDefined();
  });
});
