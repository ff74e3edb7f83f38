import type { ServiceIntent } from './annotations.js';
import { sortedRecord, sourceHash } from './hash.js';
import { Annotations, Labels, MANAGER } from './labels.js';
import type { AuthorizationPolicyObject, GeneratedPolicy, KubeObject, Rule, Target } from './model.js';

/**
 * Turns one Service's intent into AuthorizationPolicies. Pure: the same Service, intent and options always give
 * byte-identical objects (names, key order, hash), which is what makes the GitOps output idempotent.
 */

export interface GenerateOptions {
  /** The local trust domain principals are written in (Istio's `cluster.local`). */
  readonly trustDomain: string;
  /** The meshConfig extension provider that points at mesh-authz (CUSTOM policies delegate to it). */
  readonly provider: string;
  /** The end-user JWT claim holding groups (`request.auth.claims[<claim>]`). */
  readonly groupsClaim: string;
  /** The mesh root namespace (a selector-less RequestAuthentication there covers the whole mesh). */
  readonly rootNamespace: string;
}

export interface ServiceContext {
  readonly namespace: string;
  readonly name: string;
  readonly selector: Readonly<Record<string, string>>;
  /** A RequestAuthentication covers the Service's workloads: Envoy itself can check `request.auth.claims`. */
  readonly jwtVerifiedInMesh: boolean;
  /** The namespace is default-deny: a mesh-authz-only Service still needs a mesh ALLOW to be reachable at all. */
  readonly namespaceDefaultDeny: boolean;
}

/** Deterministic names: the Service name is a DNS label (≤ 63), so these stay valid object names. */
export const policyNames = {
  mesh: (svc: string) => `mesh-authz-${svc}`,
  custom: (svc: string) => `mesh-authz-${svc}-custom`,
  server: (svc: string) => `mesh-authz-${svc}-server`,
  /** In a default-deny namespace, keeps a dry-run Service's workload reachable while its policy is staged. */
  staged: (svc: string) => `mesh-authz-${svc}-staged`,
  defaultDeny: 'mesh-authz-default-deny',
} as const;

/**
 * The options a generated object depends on, and nothing else. Callers pass richer objects (live mode's resync
 * period, debounce, logger; GitOps' default-deny flags, which reach the hash through the Service context instead):
 * hashing those would re-apply every object when an operational flag changes, and make live and GitOps disagree
 * on the hash of the same input.
 */
export function hashedOptions(o: GenerateOptions): GenerateOptions {
  return {
    trustDomain: o.trustDomain,
    provider: o.provider,
    groupsClaim: o.groupsClaim,
    rootNamespace: o.rootNamespace,
  };
}

/**
 * Where each part is enforced:
 * - `mesh`: an ALLOW in Envoy. Groups go into it as `request.auth.claims[...]` only when a RequestAuthentication
 *   makes Envoy verify the token; otherwise Envoy cannot see groups, so the workload's requests are also delegated
 *   (CUSTOM) to mesh-authz, which verifies the JWT and evaluates the full rule.
 * - `mesh-authz`: CUSTOM delegation plus the full rule evaluated by mesh-authz.
 * - `both`: the mesh ALLOW and the delegation.
 */
export function generateForService(
  svc: ServiceContext,
  intent: ServiceIntent,
  options: GenerateOptions,
): GeneratedPolicy[] {
  const origin = `${svc.namespace}/${svc.name}`;
  const hash = sourceHash({
    service: origin,
    selector: svc.selector,
    intent,
    options: hashedOptions(options),
    context: svc,
  });
  const groupsInMesh = intent.groups.length > 0 && svc.jwtVerifiedInMesh;
  const delegate = intent.enforceIn !== 'mesh' || (intent.groups.length > 0 && !svc.jwtVerifiedInMesh);
  const dryRun = intent.mode === 'dry-run';
  const out: GeneratedPolicy[] = [];
  const make = (target: Target, name: string, spec: AuthorizationPolicyObject['spec'], dry: boolean) =>
    out.push({
      target,
      origin,
      object: policyObject(svc.namespace, name, spec, { hash, source: `Service/${origin}`, service: svc.name, dry }),
    });
  const selector = { matchLabels: sortedRecord(svc.selector) };

  if (intent.enforceIn !== 'mesh-authz') {
    make(
      'mesh',
      policyNames.mesh(svc.name),
      { selector, action: 'ALLOW', rules: [rule(intent, groupsInMesh, options.groupsClaim)] },
      dryRun,
    );
    if (dryRun && svc.namespaceDefaultDeny) {
      // A staged (dry-run) ALLOW enforces nothing, so the namespace allow-nothing alone would decide: the
      // workload's traffic would be denied before the change is enforced. Keep it reachable at the mesh layer
      // until the Service switches to enforce; Istio still reports what the staged policy would have done.
      make('mesh', policyNames.staged(svc.name), { selector, action: 'ALLOW', rules: [{}] }, false);
    }
  } else if (svc.namespaceDefaultDeny) {
    // The namespace allow-nothing would deny everything before mesh-authz is asked; open the mesh layer for this
    // workload only, the CUSTOM delegation below still decides every request.
    make('mesh', policyNames.mesh(svc.name), { selector, action: 'ALLOW', rules: [{}] }, false);
  }
  if (delegate) {
    // CUSTOM rules may not name principals (istiod rejects them): delegate every request of the workload, and let
    // mesh-authz evaluate the whole rule. Istio has no dry-run for CUSTOM; dry-run lives in the server policy.
    make(
      'mesh',
      policyNames.custom(svc.name),
      { selector, action: 'CUSTOM', provider: { name: options.provider }, rules: [{}] },
      false,
    );
    make(
      'mesh-authz',
      policyNames.server(svc.name),
      { selector, action: 'ALLOW', rules: [rule(intent, true, options.groupsClaim)] },
      dryRun,
    );
  }
  return out;
}

/** The namespace-wide allow-nothing: no selector, ALLOW with no rules, so only explicit ALLOWs let traffic in. */
export function generateDefaultDeny(namespace: string): GeneratedPolicy {
  const hash = sourceHash({ namespace, defaultDeny: true });
  return {
    target: 'mesh',
    origin: namespace,
    object: policyObject(
      namespace,
      policyNames.defaultDeny,
      { action: 'ALLOW' },
      { hash, source: `Namespace/${namespace}`, service: null, dry: false },
    ),
  };
}

function rule(intent: ServiceIntent, withGroups: boolean, groupsClaim: string): Rule {
  const from = [
    ...(intent.callers.principals.length > 0 ? [{ source: { principals: [...intent.callers.principals] } }] : []),
    ...(intent.callers.namespaces.length > 0 ? [{ source: { namespaces: [...intent.callers.namespaces] } }] : []),
  ];
  const hasOperation = intent.methods.length > 0 || intent.paths.length > 0;
  const operation = {
    ...(intent.methods.length > 0 ? { methods: [...intent.methods] } : {}),
    ...(intent.paths.length > 0 ? { paths: [...intent.paths] } : {}),
  };
  return {
    ...(from.length > 0 ? { from } : {}),
    ...(hasOperation ? { to: [{ operation }] } : {}),
    ...(withGroups && intent.groups.length > 0
      ? { when: [{ key: `request.auth.claims[${groupsClaim}]`, values: [...intent.groups] }] }
      : {}),
  };
}

function policyObject(
  namespace: string,
  name: string,
  spec: AuthorizationPolicyObject['spec'],
  meta: { hash: string; source: string; service: string | null; dry: boolean },
): AuthorizationPolicyObject {
  const labels: Record<string, string> = { [Labels.managedBy]: MANAGER };
  if (meta.service !== null) labels[Labels.service] = meta.service;
  const annotations: Record<string, string> = {
    [Annotations.source]: meta.source,
    [Annotations.sourceHash]: meta.hash,
  };
  if (meta.dry) annotations[Annotations.istioDryRun] = 'true';
  const orderedSpec: AuthorizationPolicyObject['spec'] = {
    ...(spec.selector ? { selector: spec.selector } : {}),
    action: spec.action,
    ...(spec.provider ? { provider: spec.provider } : {}),
    ...(spec.rules ? { rules: spec.rules } : {}),
  };
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace, labels: sortedRecord(labels), annotations: sortedRecord(annotations) },
    spec: orderedSpec,
  };
}

/** True when a RequestAuthentication covers workloads selected by `selector` in `namespace`. */
export function requestAuthCovers(
  ra: KubeObject,
  namespace: string,
  selector: Readonly<Record<string, string>>,
  rootNamespace: string,
): boolean {
  const ns = ra.metadata?.namespace;
  const spec = (ra.spec ?? {}) as {
    selector?: { matchLabels?: Record<string, string> };
    targetRef?: unknown;
    targetRefs?: unknown;
    jwtRules?: unknown[];
  };
  if (!Array.isArray(spec.jwtRules) || spec.jwtRules.length === 0) return false;
  // A RequestAuthentication attached with targetRef(s) applies to what it targets (a Gateway, a waypoint), not to
  // the workload's sidecar: its tokens are never verified where the generated ALLOW runs, and a claims rule there
  // would match nothing. Only selector (or namespace/root) scope counts.
  if (spec.targetRef !== undefined || spec.targetRefs !== undefined) return false;
  const match = spec.selector?.matchLabels;
  if (ns === rootNamespace && (match === undefined || Object.keys(match).length === 0)) return true;
  if (ns !== namespace) return false;
  if (match === undefined) return true;
  // The Service selector is a subset of every selected pod's labels: if the RA's labels are all in it, the RA
  // surely applies to those pods. Anything weaker is not proof, so groups are then delegated to mesh-authz.
  return Object.entries(match).every(([k, v]) => selector[k] === v);
}
