/**
 * The plain types the policy engine reads and returns. `policy/` is a pure library: these types carry no gRPC,
 * Envoy or Kubernetes objects. `authz/` builds a {@link RequestAttributes} from the wire message and the verified
 * identities; the engine returns a {@link Decision}.
 */

/** The calling workload, proven by an X.509-SVID, a trusted Envoy principal, trusted XFCC or a JWT-SVID. */
export interface PeerIdentity {
  /** The full SPIFFE ID, `spiffe://<trust-domain><path>`. */
  readonly spiffeId: string;
  readonly trustDomain: string;
  /** `<ns>` of a Kubernetes-form path `/ns/<ns>/sa/<sa>`, else null. */
  readonly namespace: string | null;
  /** `<sa>` of a Kubernetes-form path `/ns/<ns>/sa/<sa>`, else null. */
  readonly serviceAccount: string | null;
  /** When the credential that proved this identity expires (ms since epoch); caches never outlive it. */
  readonly expiresAt: number;
  /** A stable fingerprint of the credential (e.g. certificate SHA-256), for cache keys. */
  readonly credentialId: string;
}

/** The end user, proven by a verified JWT. */
export interface EndUser {
  readonly issuer: string;
  readonly subject: string;
  readonly audiences: readonly string[];
  /** `azp`, when present. */
  readonly presenter: string | null;
  /** The verified claims (never the token itself). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Groups taken from the configured claim(s). */
  readonly groups: readonly string[];
  readonly expiresAt: number;
  /** A stable fingerprint of the token, for cache keys. */
  readonly credentialId: string;
}

/** The destination workload a request is for. */
export interface WorkloadRef {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The workload's Kubernetes service account, when known (registry, or the destination principal). */
  readonly serviceAccount?: string;
  /**
   * What the request is addressed to beyond the workload itself, when known: the Services that select the
   * workload, or the Gateway the workload is. Policies attached with `targetRef(s)` apply only through these
   * (istiod ignores a targetRef policy for workloads it does not target); unknown means none apply.
   */
  readonly targets?: readonly PolicyTargetRef[];
}

/** A `targetRef` as Istio writes it; `namespace` is the workload's own when omitted. */
export interface PolicyTargetRef {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

/** Everything an AuthorizationPolicy rule can match on, as plain values. */
export interface RequestAttributes {
  readonly method: string;
  /** The raw `:path` as Envoy sent it: query included, not decoded. The engine normalizes it. */
  readonly path: string;
  /** `:authority`, as sent (port not stripped). */
  readonly host: string;
  /** Request headers, lowercase names. */
  readonly headers: Readonly<Record<string, string>>;
  /** The direct peer's IP (`source.ip`, `ipBlocks`). Empty when unknown. */
  readonly sourceIp: string;
  /** The original client IP (`remote.ip`, `remoteIpBlocks`). */
  readonly remoteIp: string;
  readonly destinationIp: string;
  /** 0 when unknown. */
  readonly destinationPort: number;
  /** `connection.sni`. */
  readonly sni: string;
  readonly peer: PeerIdentity | null;
  readonly user: EndUser | null;
  /** `metadata_context.filter_metadata` as plain JSON, for `experimental.envoy.filters.*` keys. */
  readonly filterMetadata: Readonly<Record<string, unknown>>;
}

export type PolicyAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

/** Where a policy came from, for messages. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
}

export interface PolicyRef {
  readonly namespace: string;
  readonly name: string;
  readonly action: PolicyAction;
  readonly source: SourceLocation | null;
}

/**
 * A policy's name as every message, log line, header, metric label and report writes it: `<namespace>/<name>`.
 * Takes a {@link PolicyRef} or an AuthorizationPolicy's `metadata`.
 */
export function policyName(ref: { readonly namespace: string; readonly name: string }): string {
  return `${ref.namespace}/${ref.name}`;
}

/** Why a decision came out as it did. */
export type DecisionCode =
  | 'deny_matched'
  | 'allow_matched'
  | 'no_allow_matched'
  | 'no_allow_policy'
  | 'invalid_request';

/**
 * The would-be outcome of the staged (dry-run) policies of one action, never enforced. As in Istio, the staged
 * policies of an action are a rule set of their own (Envoy RBAC `shadow_rules`): staged ALLOW would allow only when
 * one of its own rules matches (an enforced ALLOW does not count), staged DENY would deny when one of its rules
 * matches. Source: istio/istio 1.30.3 `pilot/pkg/security/authz/builder/builder.go` (shadowRules).
 */
export interface ShadowResult {
  /** Which staged set (always set by the engine; optional so hand-built decisions in tests and replays stay valid). */
  readonly action?: 'ALLOW' | 'DENY';
  /** The effective policy (Envoy's shadow_effective_policy_id): the staged policy whose rule matched, else the
   * first staged policy of the set. */
  readonly policy: PolicyRef;
  /** The rule that matched, or null when none did. */
  readonly ruleIndex: number | null;
  /** What the staged set alone would have decided (Envoy's shadow_engine_result). */
  readonly wouldAllow: boolean;
  /** Every staged policy of this action that selects the workload, in policy order (set by the engine). */
  readonly policies?: readonly PolicyRef[];
}

export interface Decision {
  readonly allowed: boolean;
  readonly code: DecisionCode;
  /** One sentence a developer understands. */
  readonly reason: string;
  /** The deciding policy, or null (no policy selects the workload / no ALLOW matched). */
  readonly policy: PolicyRef | null;
  /** Index of the deciding rule within `policy.spec.rules`, or null. */
  readonly ruleIndex: number | null;
  /** Staged (dry-run) results: at most one per action, DENY first (Istio's filter order). */
  readonly shadow: readonly ShadowResult[];
  /** AUDIT policies whose rules matched. */
  readonly audit: readonly PolicyRef[];
}

/**
 * Which request attributes the policies selecting one workload read. Known at compile time; the decision cache
 * key is built from exactly these.
 */
export interface AttributeUse {
  readonly method: boolean;
  readonly path: boolean;
  readonly host: boolean;
  readonly sourceIp: boolean;
  readonly remoteIp: boolean;
  readonly destinationIp: boolean;
  readonly destinationPort: boolean;
  readonly sni: boolean;
  /** principals, namespaces, serviceAccounts, source.* when keys. */
  readonly peer: boolean;
  /** requestPrincipals, request.auth.* when keys. */
  readonly user: boolean;
  /** Lowercase header names read by `request.headers[...]`. */
  readonly headers: readonly string[];
  /** `experimental.envoy.filters.*` keys read. */
  readonly metadata: boolean;
}

/** One rule of an explained policy: whether it matched, and if not the first condition that failed. */
export interface RuleExplanation {
  readonly index: number;
  /** The rule's line in its file (the document's line when unknown). */
  readonly line: number;
  readonly matched: boolean;
  /** The first condition that failed, or null when the rule matched. */
  readonly failure: string | null;
}

export interface PolicyExplanation {
  readonly policy: PolicyRef;
  readonly dryRun: boolean;
  /** What this policy does with a match, in words. */
  readonly role: string;
  readonly rules: readonly RuleExplanation[];
}

/** Why a request got its decision, policy by policy and rule by rule (see {@link CompiledPolicySet.explain}). */
export interface Explanation {
  readonly workload: WorkloadRef;
  readonly decision: Decision;
  /** The path rules were matched against, or null when it could not be normalized. */
  readonly normalizedPath: string | null;
  readonly pathNormalization: string;
  readonly policies: readonly PolicyExplanation[];
  /**
   * The targetRef policies of the workload's namespace (and the root namespace) that do NOT attach to it, with why:
   * they are aimed at a Gateway or Service this request is not known to be for.
   */
  readonly notAttached: readonly TargetedExplanation[];
}

export interface TargetedExplanation {
  readonly policy: PolicyRef;
  /** `Kind/name` of each targetRef. */
  readonly targets: readonly string[];
  readonly reason: string;
}

/**
 * A loaded, validated and compiled set of policies; immutable once built. The one face of the policy engine: the
 * Check path (`evaluate`, `attributesFor`, `labelsMatter`), `explain` and coverage (`uncovered`) all read a set
 * through it, never through the class that implements it.
 */
export interface CompiledPolicySet {
  /** Increases with each successful load; retires cached decisions. */
  readonly generation: number;
  evaluate(workload: WorkloadRef, request: RequestAttributes): Decision;
  /**
   * The decision `evaluate` returns, with for each policy that selects the workload each rule and the first
   * condition that failed. The decision is computed by `evaluate`, so explanation and enforcement never disagree.
   */
  explain(workload: WorkloadRef, request: RequestAttributes): Explanation;
  attributesFor(workload: WorkloadRef): AttributeUse;
  /**
   * What the decision cache keys this workload's requests with: built once, with the workload's plan, so the Check
   * path only reads it. Requests whose keys are equal must get equal decisions from `evaluate`.
   */
  keyPlanFor(workload: WorkloadRef): KeyPlan;
  /** The workloads no enforced ALLOW policy selects: under Istio's semantics they accept every request. */
  uncovered(workloads: readonly WorkloadRef[]): WorkloadRef[];
  /**
   * Whether the workload's labels can change the decision for a workload of this namespace: some enforced ALLOW
   * or DENY policy of the namespace or of the root namespace selects workloads (by `selector` or `targetRef`).
   * When false, the namespace alone decides; when true, a request with unknown labels must not be evaluated.
   * A set that does not say is taken to answer true (fail closed).
   */
  labelsMatter?(namespace: string): boolean;
}

/**
 * What the decision cache key of one workload's requests is built from (see `authz/cache-key.ts`). `prefix` stands
 * for everything the decision depends on besides the attributes in `use`: the set's generation and which plan
 * decides (a policy set's decisions depend on the workload only through its plan).
 */
export interface KeyPlan {
  /** The constant head of every key this plan makes; no two plans of one set share it, and it ends with `|`. */
  readonly prefix: string;
  readonly use: AttributeUse;
  /** `use.headers`, lowercase and deduplicated. */
  readonly headers: readonly string[];
}

/** The key plan for `prefix` and the attributes `use` names. */
export function keyPlanOf(prefix: string, use: AttributeUse): KeyPlan {
  return { prefix, use, headers: [...new Set(use.headers.map((h) => h.toLowerCase()))] };
}

/** Reads nothing: the starting point for building an {@link AttributeUse}. */
export const NO_ATTRIBUTES: AttributeUse = Object.freeze({
  method: false,
  path: false,
  host: false,
  sourceIp: false,
  remoteIp: false,
  destinationIp: false,
  destinationPort: false,
  sni: false,
  peer: false,
  user: false,
  headers: Object.freeze([]) as readonly string[],
  metadata: false,
});

/** One compiled test of a request (`path` is the normalized path). */
export type Probe = (r: RequestAttributes, path: string) => boolean;
