import { ISTIO_DEFAULTS } from '../policy/options.js';
import { isAnnotated, parseAnnotations } from './annotations.js';
import type { ServiceError } from './errors.js';
import {
  type GenerateOptions,
  generateDefaultDeny,
  generateForService,
  policyNames,
  requestAuthCovers,
} from './generate.js';
import { Annotations, isOwned } from './labels.js';
import { type GeneratedPolicy, type KubeObject, objectKey, type ServiceObject } from './model.js';
import { validateAuthorizationPolicy } from './validate.js';

/**
 * The reconciler's core, shared by the GitOps and live modes: cluster state in, desired policies out. Pure and
 * deterministic; I/O lives in `gitops.ts` and `live.ts`.
 */

export interface ReconcileOptions extends GenerateOptions {
  /** Namespaces that get an allow-nothing policy, besides those annotated `default-deny: "true"`. */
  readonly defaultDenyNamespaces: readonly string[];
  /** When true every namespace with an annotated Service gets the allow-nothing policy. */
  readonly defaultDenyAll: boolean;
}

export const defaultOptions: ReconcileOptions = {
  trustDomain: ISTIO_DEFAULTS.trustDomain,
  provider: 'mesh-authz',
  groupsClaim: 'groups',
  rootNamespace: ISTIO_DEFAULTS.rootNamespace,
  defaultDenyNamespaces: [],
  defaultDenyAll: false,
};

export interface ClusterState {
  readonly services: readonly ServiceObject[];
  readonly requestAuthentications: readonly KubeObject[];
  readonly namespaces: readonly KubeObject[];
  /** AuthorizationPolicies already present (owned or not): unowned names are never taken over. */
  readonly authorizationPolicies: readonly KubeObject[];
}

export interface Plan {
  /** Desired objects, sorted by target, namespace, name. */
  readonly policies: readonly GeneratedPolicy[];
  readonly errors: readonly ServiceError[];
  /**
   * `namespace/name` of annotated Services that failed: their previously generated policies are kept, not pruned.
   * Deleting them would open the workload (no ALLOW policy = allow all), so a typo must not widen access.
   */
  readonly held: ReadonlySet<string>;
}

export function planPolicies(state: ClusterState, options: ReconcileOptions): Plan {
  const policies: GeneratedPolicy[] = [];
  const errors: ServiceError[] = [];
  const held = new Set<string>();
  const unowned = new Set(state.authorizationPolicies.filter((p) => !isOwned(p)).map(objectKey));
  const denyNamespaces = new Set(options.defaultDenyNamespaces);
  for (const ns of state.namespaces) {
    if (ns.metadata?.annotations?.[Annotations.defaultDeny] === 'true' && ns.metadata.name) {
      denyNamespaces.add(ns.metadata.name);
    }
  }
  const annotatedNamespaces = new Set<string>();

  const services = [...state.services].sort((a, b) => cmp(objectKey(a), objectKey(b)));
  for (const svc of services) {
    const annotations = svc.metadata?.annotations ?? {};
    if (!isAnnotated(annotations)) continue;
    const namespace = svc.metadata?.namespace ?? 'default';
    const name = svc.metadata?.name ?? '';
    const key = `${namespace}/${name}`;
    annotatedNamespaces.add(namespace);
    const fail = (e: Omit<ServiceError, 'service'>) => {
      errors.push({ ...e, service: key });
      held.add(key);
    };
    const parsed = parseAnnotations(annotations, options.trustDomain);
    if (!parsed.ok) {
      for (const p of parsed.problems) fail(p);
      continue;
    }
    const selector = svc.spec?.selector ?? {};
    if (Object.keys(selector).length === 0) {
      fail({
        code: 'NO_SELECTOR',
        annotation: null,
        message: 'the Service has no spec.selector, so no workload to protect (ExternalName or manual Endpoints)',
      });
      continue;
    }
    const generated = generateForService(
      {
        namespace,
        name,
        selector,
        jwtVerifiedInMesh: state.requestAuthentications.some((ra) =>
          requestAuthCovers(ra, namespace, selector, options.rootNamespace),
        ),
        namespaceDefaultDeny: options.defaultDenyAll || denyNamespaces.has(namespace),
      },
      parsed.intent,
      options,
    );
    const problems = checkGenerated(generated, unowned);
    if (problems.length > 0) {
      for (const p of problems) fail(p);
      continue;
    }
    policies.push(...generated);
  }

  const denyTargets = options.defaultDenyAll ? new Set([...denyNamespaces, ...annotatedNamespaces]) : denyNamespaces;
  for (const ns of [...denyTargets].sort()) {
    const policy = generateDefaultDeny(ns);
    if (unowned.has(objectKey(policy.object))) {
      errors.push({
        code: 'NAME_CONFLICT',
        service: ns,
        annotation: null,
        message: `an AuthorizationPolicy ${policyNames.defaultDeny} not managed by mesh-authz exists; left untouched`,
      });
      continue;
    }
    policies.push(policy);
  }
  policies.sort((a, b) => cmp(`${a.target} ${objectKey(a.object)}`, `${b.target} ${objectKey(b.object)}`));
  return { policies, errors, held };
}

function checkGenerated(generated: GeneratedPolicy[], unowned: ReadonlySet<string>): Omit<ServiceError, 'service'>[] {
  const problems: Omit<ServiceError, 'service'>[] = [];
  for (const g of generated) {
    const key = objectKey(g.object);
    if (g.target === 'mesh' && unowned.has(key)) {
      problems.push({
        code: 'NAME_CONFLICT',
        annotation: null,
        message: `AuthorizationPolicy ${key} exists and is not managed by mesh-authz; it is never overwritten`,
      });
    }
    for (const issue of validateAuthorizationPolicy(g.object as unknown as Record<string, unknown>)) {
      problems.push({
        code: 'GENERATED_INVALID',
        annotation: null,
        message: `generated ${g.object.metadata.name} would be rejected: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`,
      });
    }
  }
  return problems;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
