import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { RequestAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication';
import { AuthorizationPolicy as AuthorizationPolicyV1beta1 } from '@kubernetes-models/istio/security.istio.io/v1beta1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication';
import { RequestAuthentication as RequestAuthenticationV1beta1 } from '@kubernetes-models/istio/security.istio.io/v1beta1/RequestAuthentication';
import { checkPath } from './annotations.js';

/**
 * The gate every generated (and every shipped) Istio object passes before it is written or applied: the CRD's
 * structural schema (`@kubernetes-models/istio`) and the istiod webhook rules the schema does not carry. A policy
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

const WHEN_KEYS = new Set([
  'source.ip',
  'remote.ip',
  'source.namespace',
  'source.principal',
  'source.serviceAccount',
  'source.trustDomain',
  'request.auth.principal',
  'request.auth.audiences',
  'request.auth.presenter',
  'destination.ip',
  'destination.port',
  'connection.sni',
]);
const WHEN_PREFIXES = ['request.headers[', 'request.auth.claims[', 'experimental.envoy.filters.'];
const PEER_FIELDS = ['principals', 'namespaces', 'serviceAccounts', 'requestPrincipals'];
const CUSTOM_FORBIDDEN_WHEN = /^(source\.(namespace|principal|serviceAccount|trustDomain)|request\.auth\.)/;

type Json = Record<string, unknown>;

/** The istiod webhook rules (pkg/config/validation) for AuthorizationPolicy that the CRD schema does not carry. */
export function validateIstiodRules(obj: Json): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });
  const meta = (obj['metadata'] ?? {}) as Json;
  if (typeof meta['name'] !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(meta['name'])) {
    add('metadata.name', 'must be a DNS-1123 subdomain');
  }
  const spec = (obj['spec'] ?? {}) as Json;
  const action = (spec['action'] as string | undefined) ?? 'ALLOW';
  const rules = spec['rules'] as Json[] | undefined;
  if (action === 'CUSTOM') {
    const provider = spec['provider'] as Json | undefined;
    if (typeof provider?.['name'] !== 'string' || provider['name'] === '')
      add('spec.provider.name', 'CUSTOM needs a provider name');
    if (!rules || rules.length === 0) add('spec.rules', 'CUSTOM needs rules');
  } else if (spec['provider'] !== undefined) add('spec.provider', 'provider is only allowed with action CUSTOM');
  if (action === 'DENY' && (!rules || rules.length === 0)) add('spec.rules', 'DENY needs rules');
  const selector = spec['selector'] as { matchLabels?: Record<string, string> } | undefined;
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) {
    if (v.length > 63) add(`spec.selector.matchLabels.${k}`, 'label values are at most 63 characters');
  }
  if ([spec['selector'], spec['targetRef'], spec['targetRefs']].filter((x) => x !== undefined).length > 1) {
    add('spec', 'at most one of selector, targetRef, targetRefs');
  }
  if (rules && rules.length > 512) add('spec.rules', 'at most 512 rules');
  (rules ?? []).forEach((rule, i) => {
    checkRule(rule, `spec.rules[${i}]`, action, add);
  });
  return issues;
}

function checkRule(rule: Json, at: string, action: string, add: (p: string, m: string) => void): void {
  const from = rule['from'] as Json[] | undefined;
  const to = rule['to'] as Json[] | undefined;
  const when = rule['when'] as Json[] | undefined;
  if (from !== undefined && from.length === 0) add(`${at}.from`, 'from must not be empty');
  if (to !== undefined && to.length === 0) add(`${at}.to`, 'to must not be empty');
  if (from && from.length > 512) add(`${at}.from`, 'at most 512 sources');
  (from ?? []).forEach((f, i) => {
    const src = (f['source'] ?? {}) as Record<string, string[]>;
    const p = `${at}.from[${i}].source`;
    if (Object.keys(src).length === 0) add(p, 'empty source');
    checkStrings(src, p, add);
    if (src['serviceAccounts'] && (src['principals'] || src['namespaces'])) {
      add(p, 'serviceAccounts cannot be combined with principals or namespaces');
    }
    if ((src['serviceAccounts']?.length ?? 0) > 16) add(`${p}.serviceAccounts`, 'at most 16 service accounts');
    if (action === 'CUSTOM') {
      for (const f of PEER_FIELDS) {
        const not = `not${f[0]!.toUpperCase()}${f.slice(1)}`;
        if (src[f] || src[not]) add(p, `CUSTOM rules cannot use ${f}`);
      }
    }
  });
  (to ?? []).forEach((t, i) => {
    const op = (t['operation'] ?? {}) as Record<string, string[]>;
    const p = `${at}.to[${i}].operation`;
    if (Object.keys(op).length === 0) add(p, 'empty operation');
    checkStrings(op, p, add);
    for (const k of ['paths', 'notPaths'] as const) {
      for (const path of op[k] ?? []) {
        if (path.includes('{')) {
          const reason = checkPath(path);
          if (reason) add(`${p}.${k}`, `'${path}': ${reason}`);
        }
      }
    }
    for (const port of op['ports'] ?? []) {
      const n = Number(port);
      if (!/^\d+$/.test(port) || n > 65535) add(`${p}.ports`, `'${port}' is not a port`);
    }
  });
  (when ?? []).forEach((c, i) => {
    const key = String(c['key'] ?? '');
    const p = `${at}.when[${i}]`;
    if (!WHEN_KEYS.has(key) && !WHEN_PREFIXES.some((pre) => key.startsWith(pre)))
      add(`${p}.key`, `unknown key '${key}'`);
    if (action === 'CUSTOM' && CUSTOM_FORBIDDEN_WHEN.test(key)) add(`${p}.key`, `CUSTOM rules cannot use '${key}'`);
    const values = c['values'] as string[] | undefined;
    const notValues = c['notValues'] as string[] | undefined;
    if (!values?.length && !notValues?.length) add(p, 'needs values or notValues');
    for (const v of [...(values ?? []), ...(notValues ?? [])]) if (v === '') add(p, 'empty value');
  });
}

function checkStrings(fields: Record<string, string[]>, at: string, add: (p: string, m: string) => void): void {
  for (const [k, values] of Object.entries(fields)) {
    if (!Array.isArray(values)) continue;
    for (const v of values) if (v === '') add(`${at}.${k}`, 'empty string');
  }
}

/** Every check the cluster would run on an AuthorizationPolicy: structural schema plus istiod rules. */
export function validateAuthorizationPolicy(obj: Json): ValidationIssue[] {
  return [...validateStructure(obj), ...validateIstiodRules(obj)];
}
