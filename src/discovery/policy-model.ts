import type { SourceLocation } from '../policy/types.js';

/**
 * The parts of the AuthorizationPolicy model discovery reads and writes. They mirror `src/policy/model.ts`
 * field for field (a structural subset), so the policy engine's `LoadedPolicy` values can be passed in as they are
 * and the policies written here are what the engine validates and compiles.
 */

export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
/** When a policy was put in dry-run (RFC 3339); `audit` measures how long it has been staged from it. */
export const DRY_RUN_SINCE_ANNOTATION = 'mesh-authz.io/dry-run-since';

export interface PolicySourceDoc {
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  readonly requestPrincipals?: readonly string[];
  readonly notRequestPrincipals?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly notNamespaces?: readonly string[];
  readonly serviceAccounts?: readonly string[];
  readonly notServiceAccounts?: readonly string[];
  readonly ipBlocks?: readonly string[];
  readonly notIpBlocks?: readonly string[];
  readonly remoteIpBlocks?: readonly string[];
  readonly notRemoteIpBlocks?: readonly string[];
}

export interface PolicyOperationDoc {
  readonly hosts?: readonly string[];
  readonly notHosts?: readonly string[];
  readonly ports?: readonly string[];
  readonly notPorts?: readonly string[];
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
}

export interface PolicyConditionDoc {
  readonly key: string;
  readonly values?: readonly string[];
  readonly notValues?: readonly string[];
}

export interface PolicyRuleDoc {
  readonly from?: readonly { readonly source: PolicySourceDoc }[];
  readonly to?: readonly { readonly operation: PolicyOperationDoc }[];
  readonly when?: readonly PolicyConditionDoc[];
}

export interface PolicyDoc {
  readonly apiVersion: string;
  readonly kind: 'AuthorizationPolicy';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly labels?: Readonly<Record<string, string>>;
    readonly creationTimestamp?: string;
  };
  readonly spec: {
    readonly selector?: { readonly matchLabels?: Readonly<Record<string, string>> };
    readonly targetRef?: unknown;
    readonly targetRefs?: readonly unknown[];
    readonly action?: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';
    readonly provider?: { readonly name: string };
    readonly rules?: readonly PolicyRuleDoc[];
  };
}

/** A policy with where it came from and whether it is staged (same shape as the engine's `LoadedPolicy`). */
export interface PolicyEntry {
  readonly policy: PolicyDoc;
  readonly source: SourceLocation | null;
  readonly dryRun: boolean;
}

/** A problem the engine's validator found (same shape as the engine's `PolicyIssue`). */
export interface PolicyProblem {
  readonly severity: 'error' | 'warning';
  readonly path: string;
  readonly message: string;
  readonly code: string;
}

export const actionOf = (p: PolicyDoc): string => p.spec.action ?? 'ALLOW';
export const policyName = (p: PolicyDoc): string => `${p.metadata.namespace}/${p.metadata.name}`;
