import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { RequestAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication';
import { AuthorizationPolicy as AuthorizationPolicyV1beta1 } from '@kubernetes-models/istio/security.istio.io/v1beta1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication';
import { RequestAuthentication as RequestAuthenticationV1beta1 } from '@kubernetes-models/istio/security.istio.io/v1beta1/RequestAuthentication';
import { validatePolicy } from '../policy/index.js';

/**
 * The gate every generated (and every shipped) Istio object passes before it is written or applied: the CRD's
 * structural schema (`@kubernetes-models/istio`) and the policy engine's `validatePolicy` (strict schema plus the
 * istiod webhook rules the schema does not carry). A policy
 * that fails is never emitted: the cluster would reject it, and a half-applied set is worse than the last good one.
 */

export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

/** Keyed by `apiVersion/kind`. PeerAuthentication is served as v1 too, with the v1beta1 schema. */
const models: Record<string, (data: never) => { validate(): void }> = {
  'security.istio.io/v1/AuthorizationPolicy': (d) => new AuthorizationPolicy(d),
  'security.istio.io/v1beta1/AuthorizationPolicy': (d) => new AuthorizationPolicyV1beta1(d),
  'security.istio.io/v1/RequestAuthentication': (d) => new RequestAuthentication(d),
  'security.istio.io/v1beta1/RequestAuthentication': (d) => new RequestAuthenticationV1beta1(d),
  'security.istio.io/v1/PeerAuthentication': (d) =>
    new PeerAuthentication({ ...(d as object), apiVersion: 'security.istio.io/v1beta1' } as never),
  'security.istio.io/v1beta1/PeerAuthentication': (d) => new PeerAuthentication(d),
};

/** Structural (CRD schema) validation of a `security.istio.io` object. */
export function validateStructure(obj: Record<string, unknown>): ValidationIssue[] {
  const id = `${String(obj['apiVersion'] ?? '')}/${String(obj['kind'] ?? '')}`;
  const make = models[id];
  if (!make) return [{ path: 'kind', message: `not a security.istio.io kind this project validates: '${id}'` }];
  try {
    make(obj as never).validate();
    return [];
  } catch (err) {
    return [{ path: '', message: (err as Error).message }];
  }
}

/** Every check the cluster would run on an AuthorizationPolicy: structural schema plus istiod rules. */
export function validateAuthorizationPolicy(obj: Record<string, unknown>): ValidationIssue[] {
  const rules = validatePolicy(obj, null)
    .filter((i) => i.severity === 'error')
    .map((i) => ({ path: i.path, message: i.message }));
  return [...validateStructure(obj), ...rules];
}
