import { ISTIO_DEFAULTS } from '../policy/options.js';
import { type KubeObject, objectKey } from '../sources/kube/index.js';
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
import type { GeneratedPolicy, ServiceObject } from './model.js';
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
  const byService = new Map<string, GeneratedPolicy[]>();
  const services = [...state.services].sort((a, b) => cmp(objectKey(a), objectKey(b)));
  // Only a Service that enforces turns `--default-deny` on for its namespace: a dry-run one stages a change and
  // must not deny anything yet. A Service whose annotations are broken counts as enforcing (fail closed, as before).
  const enforcedNamespaces = new Set<string>();
  for (const svc of services) {
    const annotations = svc.metadata?.annotations ?? {};
    if (isAnnotated(annotations) && annotations[Annotations.mode]?.trim() !== 'dry-run') {
      enforcedNamespaces.add(svc.metadata?.namespace ?? 'default');
    }
  }
  const denied = (ns: string) =>
    ns !== options.rootNamespace && (denyNamespaces.has(ns) || (options.defaultDenyAll && enforcedNamespaces.has(ns)));

  for (const svc of services) {
    const annotations = svc.metadata?.annotations ?? {};
    if (!isAnnotated(annotations)) continue;
    const namespace = svc.metadata?.namespace ?? 'default';
    const name = svc.metadata?.name ?? '';
    const key = `${namespace}/${name}`;
    const fail = (e: Omit<ServiceError, 'service'>) => {
      errors.push({ ...e, service: key });
      held.add(key);
    };
    if (namespace === options.rootNamespace) {
      // A policy in the root namespace applies to every namespace: its selector would pick workloads with the
      // same labels anywhere in the mesh, widening access far beyond this Service. Istio has no way to scope a
      // root-namespace policy to its own namespace, so the annotation is refused.
      fail({
        code: 'root_namespace',
        annotation: null,
        message: `'${namespace}' is the mesh root namespace: a policy there applies to every namespace, so its selector would also match workloads with the same labels elsewhere; annotate Services outside the root namespace (write mesh-wide policy by hand)`,
      });
      continue;
    }
    const parsed = parseAnnotations(annotations, options.trustDomain);
    if (!parsed.ok) {
      for (const p of parsed.problems) fail(p);
      continue;
    }
    const selector = svc.spec?.selector ?? {};
    if (Object.keys(selector).length === 0) {
      fail({
        code: 'no_selector',
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
        namespaceDefaultDeny: denied(namespace),
      },
      parsed.intent,
      options,
    );
    const problems = checkGenerated(generated, unowned);
    if (problems.length > 0) {
      for (const p of problems) fail(p);
      continue;
    }
    byService.set(key, generated);
  }

  const denyTargets = options.defaultDenyAll ? new Set([...denyNamespaces, ...enforcedNamespaces]) : denyNamespaces;
  const denyPolicies: GeneratedPolicy[] = [];
  for (const ns of [...denyTargets].sort()) {
    if (ns === options.rootNamespace) {
      // An allow-nothing in the root namespace denies the whole mesh. That is the operator's call, written by
      // hand, never a side effect of a flag or an annotation.
      errors.push({
        code: 'root_namespace',
        service: ns,
        annotation: null,
        message: `no default-deny is generated in the mesh root namespace '${ns}': it would deny every workload in the mesh; write a mesh-wide default-deny by hand if that is what you want`,
      });
      continue;
    }
    const policy = generateDefaultDeny(ns);
    if (unowned.has(objectKey(policy.object))) {
      errors.push({
        code: 'name_conflict',
        service: ns,
        annotation: null,
        message: `an AuthorizationPolicy ${policyNames.defaultDeny} not managed by mesh-authz exists; left untouched`,
      });
      continue;
    }
    denyPolicies.push(policy);
  }
  policies.push(...denyPolicies, ...withoutCollisions(byService, denyPolicies, errors, held));
  policies.sort((a, b) => cmp(`${a.target} ${objectKey(a.object)}`, `${b.target} ${objectKey(b.object)}`));
  return { policies, errors, held };
}

function checkGenerated(generated: GeneratedPolicy[], unowned: ReadonlySet<string>): Omit<ServiceError, 'service'>[] {
  const problems: Omit<ServiceError, 'service'>[] = [];
  for (const g of generated) {
    const key = objectKey(g.object);
    if (g.target === 'mesh' && unowned.has(key)) {
      problems.push({
        code: 'name_conflict',
        annotation: null,
        message: `AuthorizationPolicy ${key} exists and is not managed by mesh-authz; it is never overwritten`,
      });
    }
    for (const issue of validateAuthorizationPolicy(g.object as unknown as Record<string, unknown>)) {
      problems.push({
        code: 'generated_invalid',
        annotation: null,
        message: `generated ${g.object.metadata.name} would be rejected: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`,
      });
    }
  }
  return problems;
}

/**
 * Generated names derive from Service names (`mesh-authz-<svc>`, `…-custom`, `…-server`), so two Services can ask
 * for the same object (`card` delegates to `mesh-authz-card-custom`, `card-custom` allows with it; a Service named
 * `default-deny` meets the namespace allow-nothing). Writing either one would silently drop the other's policy,
 * or flip the object between them on every live pass. So every Service involved is refused with the other named,
 * nothing is written for it, and its last good policies are held (a namespace default-deny always stays: dropping
 * it would open the namespace).
 */
function withoutCollisions(
  byService: ReadonlyMap<string, readonly GeneratedPolicy[]>,
  denyPolicies: readonly GeneratedPolicy[],
  errors: ServiceError[],
  held: Set<string>,
): GeneratedPolicy[] {
  const owners = new Map<string, string[]>();
  const claim = (name: string, origin: string) => owners.set(name, [...(owners.get(name) ?? []), origin]);
  for (const p of denyPolicies) claim(objectKey(p.object), `Namespace/${p.origin}`);
  for (const [svc, generated] of byService) {
    for (const name of new Set(generated.map((g) => objectKey(g.object)))) claim(name, `Service/${svc}`);
  }
  const refused = new Map<string, string[]>();
  for (const [name, origins] of owners) {
    if (origins.length < 2) continue;
    for (const origin of origins) {
      if (!origin.startsWith('Service/')) continue;
      const others = origins.filter((o) => o !== origin);
      refused.set(origin.slice('Service/'.length), [
        ...(refused.get(origin.slice('Service/'.length)) ?? []),
        `AuthorizationPolicy ${name} would also be generated for ${others.join(', ')}`,
      ]);
    }
  }
  const out: GeneratedPolicy[] = [];
  for (const [svc, generated] of byService) {
    const why = refused.get(svc);
    if (why === undefined) {
      out.push(...generated);
      continue;
    }
    held.add(svc);
    errors.push({
      code: 'name_conflict',
      service: svc,
      annotation: null,
      message: `${why.join('; ')}; nothing is generated for this Service (rename one of them)`,
    });
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
