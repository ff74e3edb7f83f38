import { type FieldPath, IssueSink, isRecord } from './issues.js';
import {
  type AuthorizationPolicy,
  DRY_RUN_ANNOTATION,
  type LoadedPolicy,
  POLICY_API_VERSIONS,
  type PolicyIssue,
} from './model.js';
import { ALLOWED_TARGET_KINDS, describeTarget, isAllowedTargetKind } from './targets.js';
import type { PolicyAction, SourceLocation } from './types.js';
import { validateRules } from './validate-rules.js';

/**
 * Validation as the Kubernetes API server (the CRD's structural schema, strict field validation) and istiod's
 * webhook would do it: a policy the cluster would reject is rejected here, with the field path and the reason.
 * Source: istio/istio `pkg/config/validation/validation.go` (ValidateAuthorizationPolicy); istio/api
 * `kubernetes/customresourcedefinitions.gen.yaml`.
 */

const ACTIONS: readonly PolicyAction[] = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'];
const TOP_KEYS = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
const SPEC_KEYS = new Set(['selector', 'targetRef', 'targetRefs', 'action', 'provider', 'rules']);
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** Go's strconv.ParseBool, which istiod uses to read the dry-run annotation. */
const BOOL_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const BOOL_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export interface ValidationResult {
  readonly issues: PolicyIssue[];
  /** The policy, when there are no errors. */
  readonly loaded: LoadedPolicy | null;
}

/**
 * Validates one AuthorizationPolicy object. Used by the loader, the reconciler and discovery (which must never
 * emit a policy the cluster would reject). Without a source, issues carry file `<input>` and line 0.
 */
export function validatePolicy(obj: unknown, source: SourceLocation | null): PolicyIssue[] {
  const file = source?.file ?? '<input>';
  const line = source?.line ?? 0;
  return validateDocument(obj, file, () => line).issues;
}

/** Validates and, when valid, returns the typed policy. `lineOf` resolves field paths to lines. */
export function validateDocument(obj: unknown, file: string, lineOf: (path: FieldPath) => number): ValidationResult {
  const sink = new IssueSink(file, lineOf);
  if (!isRecord(obj)) {
    sink.error([], 'schema', 'an AuthorizationPolicy must be a mapping');
    return { issues: sink.issues, loaded: null };
  }
  for (const key of Object.keys(obj)) {
    if (!TOP_KEYS.has(key)) sink.error([key], 'unknown_field', `unknown field '${key}'`);
  }
  if (!POLICY_API_VERSIONS.includes(obj.apiVersion as never)) {
    sink.error(['apiVersion'], 'schema', `apiVersion must be one of ${POLICY_API_VERSIONS.join(', ')}`);
  }
  if (obj.kind !== 'AuthorizationPolicy') sink.error(['kind'], 'schema', 'kind must be AuthorizationPolicy');
  const metadata = validateMetadata(obj.metadata, sink);
  const spec = obj.spec ?? {};
  let action: PolicyAction = 'ALLOW';
  if (!isRecord(spec)) sink.error(['spec'], 'schema', 'spec must be a mapping');
  else action = validateSpec(spec, sink);
  const dryRun = validateDryRun(metadata.annotations, action, sink);
  if (sink.hasErrors) return { issues: sink.issues, loaded: null };
  const policy = {
    ...obj,
    metadata: { ...(obj.metadata as object), namespace: metadata.namespace },
    spec,
  } as unknown as AuthorizationPolicy;
  return { issues: sink.issues, loaded: { policy, source: { file, line: lineOf([]) }, dryRun } };
}

interface MetadataInfo {
  namespace: string;
  annotations: Record<string, unknown>;
}

function validateMetadata(metadata: unknown, sink: IssueSink): MetadataInfo {
  const info: MetadataInfo = { namespace: 'default', annotations: {} };
  if (!isRecord(metadata)) {
    sink.error(['metadata'], 'missing_field', 'metadata (with name and namespace) is required');
    return info;
  }
  const { name, namespace, annotations, labels } = metadata;
  if (typeof name !== 'string' || name === '')
    sink.error(['metadata', 'name'], 'missing_field', 'metadata.name is required');
  else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    sink.error(['metadata', 'name'], 'invalid_value', `'${name}' is not a valid name (lowercase DNS subdomain)`);
  }
  if (namespace === undefined || namespace === null) {
    // kubectl would use the context's namespace; a file-based load has none, so say which one we assumed.
    sink.warn(['metadata'], 'missing_namespace', "metadata.namespace is not set; assuming 'default'");
  } else if (typeof namespace !== 'string' || namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    sink.error(['metadata', 'namespace'], 'invalid_value', `'${String(namespace)}' is not a valid namespace`);
  } else info.namespace = namespace;
  for (const [field, value] of [
    ['annotations', annotations],
    ['labels', labels],
  ] as const) {
    if (value === undefined || value === null) continue;
    if (!isRecord(value)) {
      sink.error(['metadata', field], 'schema', `metadata.${field} must be a mapping of strings`);
      continue;
    }
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string')
        sink.error(['metadata', field, k], 'schema', `metadata.${field}['${k}'] must be a string`);
    }
    if (field === 'annotations') info.annotations = value;
  }
  return info;
}

function validateSpec(spec: Record<string, unknown>, sink: IssueSink): PolicyAction {
  for (const key of Object.keys(spec)) {
    if (!SPEC_KEYS.has(key)) sink.error(['spec', key], 'unknown_field', `unknown field '${key}'`);
  }
  let action: PolicyAction = 'ALLOW';
  if (spec.action !== undefined && spec.action !== null) {
    if (!ACTIONS.includes(spec.action as PolicyAction)) {
      sink.error(['spec', 'action'], 'invalid_action', `action must be one of ${ACTIONS.join(', ')}`);
    } else action = spec.action as PolicyAction;
  }
  // The CRD's CEL rule counts a field that is present, even an empty targetRefs list (`has(self.targetRefs)`);
  // istiod's own check counts only a non-empty one, but the API server refuses first.
  const targets = ['selector', 'targetRef', 'targetRefs'].filter((k) => spec[k] !== undefined && spec[k] !== null);
  if (targets.length > 1) {
    sink.error(['spec', targets[1]!], 'invalid_selector', 'only one of selector, targetRef or targetRefs may be set');
  }
  validateSelector(spec.selector, sink);
  validateTargetRefs(spec, sink);
  const provider = spec.provider;
  if (provider !== undefined && provider !== null) {
    if (action !== 'CUSTOM') {
      sink.error(['spec', 'provider'], 'invalid_provider', 'provider can only be used with the CUSTOM action');
    }
    if (!isRecord(provider) || typeof provider.name !== 'string' || provider.name === '') {
      sink.error(['spec', 'provider'], 'invalid_provider', 'provider.name must be set');
    } else {
      for (const k of Object.keys(provider)) {
        if (k !== 'name') sink.error(['spec', 'provider', k], 'unknown_field', `unknown field '${k}'`);
      }
    }
  } else if (action === 'CUSTOM') {
    sink.error(['spec', 'action'], 'invalid_provider', 'the CUSTOM action needs provider.name');
  }
  const rules = spec.rules;
  const noRules = rules === undefined || rules === null || (Array.isArray(rules) && rules.length === 0);
  if (noRules && (action === 'DENY' || action === 'CUSTOM')) {
    sink.error(
      ['spec'],
      'missing_rules',
      `${action} without rules is meaningless as it never matches; add an empty rule {} to match every request`,
    );
  }
  if (!noRules) validateRules(rules, action, sink);
  return action;
}

function validateSelector(selector: unknown, sink: IssueSink): void {
  if (selector === undefined || selector === null) return;
  if (!isRecord(selector)) {
    sink.error(['spec', 'selector'], 'schema', 'selector must be a mapping with matchLabels');
    return;
  }
  for (const k of Object.keys(selector)) {
    if (k !== 'matchLabels')
      sink.error(['spec', 'selector', k], 'unknown_field', `unknown field '${k}' (only matchLabels)`);
  }
  const labels = selector.matchLabels;
  if (labels === undefined || labels === null) return;
  if (!isRecord(labels)) {
    sink.error(['spec', 'selector', 'matchLabels'], 'schema', 'matchLabels must be a mapping of strings');
    return;
  }
  for (const [k, v] of Object.entries(labels)) {
    const at = ['spec', 'selector', 'matchLabels', k];
    const name = k.includes('/') ? k.slice(k.lastIndexOf('/') + 1) : k;
    if (k.includes('*')) sink.error(at, 'invalid_selector', 'a wildcard is not allowed in a label key');
    else if (name.length > 63 || !LABEL_NAME.test(name))
      sink.error(at, 'invalid_selector', `'${k}' is not a valid label key`);
    if (typeof v !== 'string') sink.error(at, 'schema', 'a label value must be a string');
    else if (v.includes('*')) sink.error(at, 'invalid_selector', 'a wildcard is not supported in selector values');
    else if (v.length > 63 || !LABEL_VALUE.test(v)) {
      sink.error(at, 'invalid_selector', `'${v}' is not a valid label value (at most 63 characters)`);
    }
  }
}

function validateTargetRefs(spec: Record<string, unknown>, sink: IssueSink): void {
  const refs: [FieldPath, unknown][] = [];
  if (spec.targetRef !== undefined && spec.targetRef !== null) refs.push([['spec', 'targetRef'], spec.targetRef]);
  if (Array.isArray(spec.targetRefs)) {
    // istio/api 1.30.3 kubernetes/customresourcedefinitions.gen.yaml: targetRefs maxItems 16.
    if (spec.targetRefs.length > 16) sink.error(['spec', 'targetRefs'], 'limit_exceeded', 'at most 16 targetRefs');
    spec.targetRefs.forEach((r, i) => {
      refs.push([['spec', 'targetRefs', i], r]);
    });
  } else if (spec.targetRefs !== undefined && spec.targetRefs !== null) {
    sink.error(['spec', 'targetRefs'], 'schema', 'targetRefs must be a list');
  }
  for (const [at, ref] of refs) {
    if (!isRecord(ref) || typeof ref.kind !== 'string' || typeof ref.name !== 'string' || !ref.kind || !ref.name) {
      sink.error(at, 'missing_field', 'a targetRef needs kind and name');
      continue;
    }
    for (const k of Object.keys(ref)) {
      if (k !== 'group' && k !== 'kind' && k !== 'name' && k !== 'namespace')
        sink.error([...at, k], 'unknown_field', `unknown field '${k}'`);
    }
    // istio/istio 1.30.3 pkg/config/validation/validation.go (validatePolicyTargetReference).
    if (ref.namespace !== undefined && ref.namespace !== null && ref.namespace !== '') {
      sink.error(
        [...at, 'namespace'],
        'invalid_target_ref',
        'targetRef namespace must not be set: cross-namespace references are not supported',
      );
    }
    const group = typeof ref.group === 'string' ? ref.group : undefined;
    if (!isAllowedTargetKind(group, ref.kind)) {
      sink.error(
        [...at, 'kind'],
        'invalid_target_ref',
        `targetRef must be to one of ${ALLOWED_TARGET_KINDS.map((a) => `${a.group}/${a.kind}`).join(', ')}, ` +
          `not ${describeTarget({ group, kind: ref.kind, name: ref.name })}`,
      );
    }
  }
  if (refs.length > 0 && !sink.hasErrors) {
    sink.warn(
      refs[0]![0],
      'target_ref_ignored',
      'a targetRef policy applies only to requests that workload resolution (the registry, or context_extensions) ' +
        'says are for its target; for any other request it does not apply',
    );
  }
}

function validateDryRun(annotations: Record<string, unknown>, action: PolicyAction, sink: IssueSink): boolean {
  const value = annotations[DRY_RUN_ANNOTATION];
  if (value === undefined) return false;
  const at = ['metadata', 'annotations', DRY_RUN_ANNOTATION];
  // istiod refuses the annotation, whatever its value, on any action but ALLOW and DENY
  // (istio/istio 1.30.3 pkg/config/validation/validation.go, checkDryRunAnnotation).
  if (action !== 'ALLOW' && action !== 'DENY') {
    sink.error(at, 'invalid_annotation', `${DRY_RUN_ANNOTATION} is only supported on ALLOW and DENY policies`);
    return false;
  }
  if (typeof value !== 'string' || (!BOOL_TRUE.has(value) && !BOOL_FALSE.has(value))) {
    sink.error(at, 'invalid_annotation', `${DRY_RUN_ANNOTATION} must be "true" or "false"`);
    return false;
  }
  return BOOL_TRUE.has(value);
}
