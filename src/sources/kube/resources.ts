import type { KubeObject } from './object.js';

/** The resource types mesh-authz reads and writes, with their REST coordinates. */

export interface ResourceType {
  readonly apiVersion: string;
  readonly kind: string;
  /** The plural resource name in URLs. */
  readonly plural: string;
  /** False for cluster-scoped kinds (Namespace). */
  readonly namespaced: boolean;
}

export const Resources = {
  service: { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  pod: { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  namespace: { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  configMap: { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  event: { apiVersion: 'v1', kind: 'Event', plural: 'events', namespaced: true },
  authorizationPolicy: {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    plural: 'authorizationpolicies',
    namespaced: true,
  },
  authorizationPolicyV1beta1: {
    apiVersion: 'security.istio.io/v1beta1',
    kind: 'AuthorizationPolicy',
    plural: 'authorizationpolicies',
    namespaced: true,
  },
  requestAuthentication: {
    apiVersion: 'security.istio.io/v1',
    kind: 'RequestAuthentication',
    plural: 'requestauthentications',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

/** The resource type of an object, from its apiVersion and kind (for writes). */
export function resourceOf(obj: KubeObject): ResourceType | undefined {
  return Object.values(Resources).find((r) => r.kind === obj.kind && r.apiVersion === (obj.apiVersion ?? 'v1'));
}
