import type {
  AttributeUse,
  CompiledPolicySet,
  Decision,
  RequestAttributes,
  WorkloadRef,
} from '../../src/policy/types.js';
import { NO_ATTRIBUTES } from '../../src/policy/types.js';
import { standInEngine } from './stand-in-engine.js';

/**
 * A tiny real CompiledPolicySet for server tests: allows a request when its path starts with one of the allowed
 * prefixes, denies paths under `/deny` with an explicit DENY, and default-denies the rest. Enough to exercise the
 * service without the policy engine.
 */
export function prefixPolicySet(allowed: readonly string[], generation = 1): CompiledPolicySet {
  const use: AttributeUse = { ...NO_ATTRIBUTES, path: true };
  const allow = { namespace: 'test', name: 'allow-prefix', action: 'ALLOW' as const, source: null };
  const deny = { namespace: 'test', name: 'deny-prefix', action: 'DENY' as const, source: null };
  return standInEngine({
    generation,
    attributesFor: () => use,
    // Its decisions never read workload labels, so a request naming only a namespace is decided, not refused.
    labelsMatter: () => false,
    evaluate(_workload: WorkloadRef, request: RequestAttributes): Decision {
      if (request.path.startsWith('/deny')) {
        return {
          allowed: false,
          code: 'deny_matched',
          reason: 'denied by test/deny-prefix',
          policy: deny,
          ruleIndex: 0,
          shadow: [],
          audit: [],
        };
      }
      const hit = allowed.some((p) => request.path.startsWith(p));
      return hit
        ? {
            allowed: true,
            code: 'allow_matched',
            reason: 'allowed by test/allow-prefix',
            policy: allow,
            ruleIndex: 0,
            shadow: [],
            audit: [],
          }
        : {
            allowed: false,
            code: 'no_allow_matched',
            reason: 'no ALLOW policy matched',
            policy: null,
            ruleIndex: null,
            shadow: [],
            audit: [],
          };
    },
  });
}
