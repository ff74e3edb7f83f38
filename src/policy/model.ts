import type { PolicyAction, SourceLocation } from './types.js';

/**
 * The AuthorizationPolicy document model (security.istio.io/v1 and v1beta1 share one schema). These are the shapes
 * after validation: every field the engine reads is typed; unknown fields were rejected by the validator.
 */

export const POLICY_API_VERSIONS = ['security.istio.io/v1', 'security.istio.io/v1beta1'] as const;
export type PolicyApiVersion = (typeof POLICY_API_VERSIONS)[number];

/** The annotation that turns an ALLOW/DENY policy into a shadow (dry-run) policy. */
export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

export interface PolicySource {
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  readonly requestPrincipals?: readonly string[];
  readonly notRequestPrincipals?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly notNamespaces?: readonly string[];
  readonly serviceAccounts?: readonly string[];
  readonly notServiceAccounts?: readonly string[];
  /** Istio 1.30.2 and later. */
  readonly trustDomains?: readonly string[];
  readonly notTrustDomains?: readonly string[];
  readonly ipBlocks?: readonly string[];
  readonly notIpBlocks?: readonly string[];
  readonly remoteIpBlocks?: readonly string[];
  readonly notRemoteIpBlocks?: readonly string[];
}

export interface PolicyOperation {
  readonly hosts?: readonly string[];
  readonly notHosts?: readonly string[];
  readonly ports?: readonly string[];
  readonly notPorts?: readonly string[];
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
}

export interface PolicyCondition {
  readonly key: string;
  readonly values?: readonly string[];
  readonly notValues?: readonly string[];
}

export interface PolicyRule {
  readonly from?: readonly { readonly source: PolicySource }[];
  readonly to?: readonly { readonly operation: PolicyOperation }[];
  readonly when?: readonly PolicyCondition[];
}

export interface PolicyTargetRef {
  readonly group?: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}

export interface AuthorizationPolicySpec {
  readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
  readonly targetRef?: PolicyTargetRef;
  readonly targetRefs?: readonly PolicyTargetRef[];
  /** Absent means ALLOW (the proto default). */
  readonly action?: PolicyAction;
  readonly provider?: { readonly name: string };
  readonly rules?: readonly PolicyRule[];
}

export interface AuthorizationPolicy {
  readonly apiVersion: PolicyApiVersion;
  readonly kind: 'AuthorizationPolicy';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly labels?: Readonly<Record<string, string>>;
    /** Set by the API server; `audit` reads it to tell how long a policy has been in dry-run. */
    readonly creationTimestamp?: string;
  };
  readonly spec: AuthorizationPolicySpec;
}

/** A validated policy and where it was read from. */
export interface LoadedPolicy {
  readonly policy: AuthorizationPolicy;
  readonly source: SourceLocation;
  /** `istio.io/dry-run: "true"` on an ALLOW or DENY policy. */
  readonly dryRun: boolean;
  /** Line of each field, by field path (`spec.rules[0].to[0].operation.paths[1]`), when read from text. */
  readonly lines?: Readonly<Record<string, number>>;
}

/** The line of a field: its own, else its nearest parent's, else the document's. */
export function lineOf(loaded: LoadedPolicy, path: string): number {
  const lines = loaded.lines;
  if (lines) {
    let p = path;
    while (p !== '') {
      const line = lines[p];
      if (line !== undefined) return line;
      const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      p = cut < 0 ? '' : p.slice(0, cut);
    }
  }
  return loaded.source.line;
}

/** Stable codes of policy problems (errors the cluster would reject, warnings from lint). */
export type PolicyIssueCode =
  | 'yaml_syntax'
  | 'read_failed'
  | 'schema'
  | 'unknown_field'
  | 'missing_field'
  | 'invalid_value'
  | 'empty_value'
  | 'limit_exceeded'
  | 'invalid_action'
  | 'invalid_provider'
  | 'missing_rules'
  | 'custom_identity_field'
  | 'invalid_ip'
  | 'invalid_port'
  | 'invalid_path_template'
  | 'invalid_condition'
  | 'invalid_selector'
  | 'invalid_annotation'
  | 'invalid_target_ref'
  | 'duplicate_policy'
  | 'missing_namespace'
  | 'allow_all'
  | 'spiffe_prefix'
  | 'http_fields_on_tcp'
  | 'path_bypass'
  | 'host_without_port'
  | 'shadowed_rule'
  | 'selector_matches_nothing'
  | 'uncovered_workload'
  | 'custom_not_enforced'
  | 'target_ref_ignored'
  | 'service_account_any_trust_domain';

export interface PolicyIssue {
  readonly severity: 'error' | 'warning';
  readonly file: string;
  readonly line: number;
  /** Field path, e.g. `spec.rules[0].from[0].source.principals[1]`. */
  readonly path: string;
  readonly message: string;
  readonly code: PolicyIssueCode;
}

export type PolicyLoadErrorCode = 'invalid_policy' | 'unreadable';

/** The policy input cannot be used; `issues` says where and why. */
export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
  constructor(
    readonly code: PolicyLoadErrorCode,
    readonly issues: readonly PolicyIssue[],
  ) {
    super(
      `${code === 'unreadable' ? 'policy files could not be read' : 'invalid policy'}:\n${issues
        .filter((i) => i.severity === 'error')
        .map(formatIssue)
        .join('\n')}`,
    );
  }
}

/** `file:line: severity: path: message [code]`, the form editors and CI annotate. */
export function formatIssue(issue: PolicyIssue): string {
  const where = issue.path ? ` ${issue.path}:` : '';
  return `${issue.file}:${issue.line}: ${issue.severity}:${where} ${issue.message} [${issue.code}]`;
}

/** The effective action (the proto default is ALLOW). */
export function actionOf(policy: AuthorizationPolicy): PolicyAction {
  return policy.spec.action ?? 'ALLOW';
}
