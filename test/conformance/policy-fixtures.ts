import {
  type CompileOptions,
  compilePolicySet,
  formatIssue,
  type PolicySet,
  parsePolicyText,
} from '../../src/policy/index.js';
import type { EndUser, PeerIdentity, RequestAttributes, WorkloadRef } from '../../src/policy/types.js';

/** Builders shared by the policy conformance and property suites. */

export function peer(spiffeId: string): PeerIdentity {
  const m = /^spiffe:\/\/([^/]+)(\/.*)?$/.exec(spiffeId);
  const k8s = /^\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(m?.[2] ?? '');
  return {
    spiffeId,
    trustDomain: m?.[1] ?? '',
    namespace: k8s?.[1] ?? null,
    serviceAccount: k8s?.[2] ?? null,
    expiresAt: Number.MAX_SAFE_INTEGER,
    credentialId: spiffeId,
  };
}

export function user(
  issuer: string,
  subject: string,
  claims: Record<string, unknown> = {},
  extra: Partial<EndUser> = {},
): EndUser {
  return {
    issuer,
    subject,
    audiences: [],
    presenter: null,
    claims: { iss: issuer, sub: subject, ...claims },
    groups: [],
    expiresAt: Number.MAX_SAFE_INTEGER,
    credentialId: `${issuer}/${subject}`,
    ...extra,
  };
}

export const BASE_REQUEST: RequestAttributes = {
  method: 'GET',
  path: '/',
  host: 'svc.example.com',
  headers: {},
  sourceIp: '10.0.0.1',
  remoteIp: '10.0.0.1',
  destinationIp: '10.0.0.2',
  destinationPort: 8080,
  sni: '',
  peer: null,
  user: null,
  filterMetadata: {},
};

export function req(over: Partial<RequestAttributes> = {}): RequestAttributes {
  return { ...BASE_REQUEST, ...over };
}

export const WORKLOAD: WorkloadRef = { namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } };

/** Parses YAML policies and compiles them; any validation error fails the test. */
export function policySet(yaml: string, options: CompileOptions = {}, generation = 1): PolicySet {
  const parsed = parsePolicyText(yaml, 'test.yaml');
  const errors = parsed.issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map(formatIssue).join('\n'));
  return compilePolicySet(parsed.policies, options, generation);
}

/** One AuthorizationPolicy document in namespace `foo` selecting app=httpbin. */
export function policy(
  action: string,
  rules: string,
  extra: { name?: string; namespace?: string; selector?: boolean; annotations?: string } = {},
): string {
  const selector = extra.selector === false ? '' : '  selector:\n    matchLabels:\n      app: httpbin\n';
  const annotations = extra.annotations ? `  annotations:\n${extra.annotations}\n` : '';
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${extra.name ?? action.toLowerCase()}
  namespace: ${extra.namespace ?? 'foo'}
${annotations}spec:
${selector}  action: ${action}
${rules}
---
`;
}
