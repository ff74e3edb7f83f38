import { expect, it } from 'vitest';
import type { CompileOptions } from '../../src/policy/index.js';
import type { DecisionCode, RequestAttributes, WorkloadRef } from '../../src/policy/types.js';
import { policySet, WORKLOAD } from './policy-fixtures.js';

/** One conformance case: policies, a request, the decision Istio/Envoy would make, and where that comes from. */
export interface ConformanceCase {
  readonly name: string;
  /** The Istio doc or source the expectation is taken from. */
  readonly source: string;
  readonly policies: string;
  readonly request: RequestAttributes;
  readonly workload?: WorkloadRef;
  readonly options?: CompileOptions;
  readonly allowed: boolean;
  readonly code?: DecisionCode;
  /** `namespace/name#rule` of the deciding rule, when one decides. */
  readonly decidedBy?: string;
}

export const DOC_AP = 'istio.io/latest/docs/reference/config/security/authorization-policy/';
export const DOC_CONCEPT = 'istio.io/latest/docs/concepts/security/#authorization-policies';
export const DOC_CONDITIONS = 'istio.io/latest/docs/reference/config/security/conditions/';
export const DOC_NORMALIZATION = 'istio.io/latest/docs/reference/config/security/normalization/';
export const DOC_BEST = 'istio.io/latest/docs/ops/best-practices/security/#authorization-policies';
export const SRC_GENERATOR = 'istio/istio pilot/pkg/security/authz/model/generator.go';
export const SRC_MATCHER = 'istio/istio pilot/pkg/security/authz/matcher/{string,header}.go';
export const SRC_TD = 'istio/istio pilot/pkg/security/trustdomain/bundle.go';
export const DOC_DRYRUN = 'istio.io/latest/docs/tasks/security/authorization/authz-dry-run/';

/** Istio's own source at the release whose validation and semantics mesh-authz matches (tag 1.30.3). */
export const ISTIO = 'istio/istio@1.30.3';
export const SRC_GENERATOR_130 = `${ISTIO} pilot/pkg/security/authz/model/generator.go`;
export const SRC_ATTACHMENT = `${ISTIO} pilot/pkg/model/policyattachment.go`;
export const SRC_VALIDATION = `${ISTIO} pkg/config/validation/validation.go`;
export const SRC_SECURITY = `${ISTIO} pkg/config/security/security.go`;
export const SRC_BUILDER = `${ISTIO} pilot/pkg/security/authz/builder/builder.go`;
export const SRC_TEMPLATE = `${ISTIO} pilot/pkg/security/authz/matcher/template.go`;
/** Envoy's URI template matcher (the regex it builds from a template). */
export const SRC_ENVOY_TEMPLATE = 'envoyproxy/envoy source/extensions/path/uri_template_lib/uri_template_internal.cc';

/** Registers each case as a test; the test name carries the cited source. */
export function runCases(cases: readonly ConformanceCase[]): void {
  for (const c of cases) {
    it(`${c.name} [${c.source}]`, () => {
      const set = policySet(c.policies, c.options);
      const d = set.evaluate(c.workload ?? WORKLOAD, c.request);
      expect({ allowed: d.allowed, reason: d.reason }).toMatchObject({ allowed: c.allowed });
      if (c.code) expect(d.code).toBe(c.code);
      if (c.decidedBy) expect(`${d.policy?.namespace}/${d.policy?.name}#${d.ruleIndex}`).toBe(c.decidedBy);
    });
  }
}
