import { IstioOperator } from '@kubernetes-models/istio/install.istio.io/v1alpha1/IstioOperator';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

/**
 * Validation of rendered objects against the Kubernetes OpenAPI schemas (the `kubernetes-models` package, generated
 * from Kubernetes' own OpenAPI document) and Istio's CRD schemas (`@kubernetes-models/istio`). Those schemas check
 * types, required fields and enums; like the API server without strict field validation they do not reject unknown
 * fields, so the tests also read back the fields that matter.
 */

type Validatable = { validate(): void };
const models: Record<string, (obj: never) => Validatable> = {
  'v1/Namespace': (o) => new Namespace(o),
  'v1/ServiceAccount': (o) => new ServiceAccount(o),
  'v1/ConfigMap': (o) => new ConfigMap(o),
  'v1/Service': (o) => new Service(o),
  'apps/v1/Deployment': (o) => new Deployment(o),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o),
  'rbac.authorization.k8s.io/v1/ClusterRole': (o) => new ClusterRole(o),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': (o) => new ClusterRoleBinding(o),
  'rbac.authorization.k8s.io/v1/Role': (o) => new Role(o),
  'rbac.authorization.k8s.io/v1/RoleBinding': (o) => new RoleBinding(o),
  'security.istio.io/v1/AuthorizationPolicy': (o) => new AuthorizationPolicy(o),
  // security.istio.io/v1 PeerAuthentication has the v1beta1 schema (Istio serves v1 as an alias, istio/api
  // security/v1/peer_authentication alias); this package version only ships the v1beta1 model.
  'security.istio.io/v1/PeerAuthentication': (o) =>
    new PeerAuthentication({ ...(o as object), apiVersion: 'security.istio.io/v1beta1' } as never),
  'install.istio.io/v1alpha1/IstioOperator': (o) => new IstioOperator(o),
};

/** Problems with one object: an unknown kind, or the schema's own message. Empty when valid. */
export function schemaIssues(obj: Record<string, unknown>): string[] {
  const id = `${String(obj['apiVersion'])}/${String(obj['kind'])}`;
  const make = models[id];
  if (!make) return [`no schema known for ${id}`];
  try {
    make(obj as never).validate();
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}
