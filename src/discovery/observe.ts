import type { CheckOutcome } from '../authz/outcome.js';
import type { PathNormalization } from '../policy/normalize.js';
import { ISTIO_DEFAULTS } from '../policy/options.js';
import { type PeerIdentity, policyName, type WorkloadRef } from '../policy/types.js';
import type { FlowObservation } from './table.js';
import { pathTemplate } from './template.js';
import type { FlowDestination, FlowSource } from './types.js';

/**
 * CheckOutcome → FlowObservation: the only place monitor mode reads a Check. Every string taken from the request
 * is capped, because the request is attacker-controlled and the table must stay small whatever it is sent.
 */

const ANONYMOUS: FlowSource = Object.freeze({ spiffeId: '', trustDomain: '', namespace: '', serviceAccount: '' });
const MAX_METHOD = 32;
const MAX_LABELS = 8;
const MAX_LABEL_KEY = 63;
const MAX_LABEL_VALUE = 63;
/** The SPIFFE spec's URI limit; a verified ID is never longer, this only makes the bound explicit here. */
const MAX_SPIFFE_ID = 2048;
/** A Kubernetes namespace is a DNS label (63); 253 also covers non-Kubernetes names. */
const MAX_NAME = 253;

const cap = (s: string, n: number): string => (s.length > n ? s.slice(0, n) : s);
/** Labels that name a workload, in order of preference; their value is stable across pod restarts. */
const NAME_LABELS = ['app', 'app.kubernetes.io/name', 'service.istio.io/canonical-name'];

export function flowSource(peer: PeerIdentity | null): FlowSource {
  if (peer === null) return ANONYMOUS;
  return {
    spiffeId: cap(peer.spiffeId, MAX_SPIFFE_ID),
    trustDomain: cap(peer.trustDomain, MAX_NAME),
    namespace: cap(peer.namespace ?? '', MAX_NAME),
    serviceAccount: cap(peer.serviceAccount ?? '', MAX_NAME),
  };
}

/**
 * The destination as a policy selector would name it: the first naming label when there is one (so per-pod labels
 * such as `pod-template-hash` do not split one workload into many), else all labels (at most 8).
 */
export function flowDestination(workload: WorkloadRef): FlowDestination {
  const namespace = cap(workload.namespace, MAX_NAME);
  for (const name of NAME_LABELS) {
    const v = workload.labels[name];
    if (v !== undefined && v !== '') {
      const value = v.slice(0, MAX_LABEL_VALUE);
      return { namespace, workload: value, labels: { [name]: value } };
    }
  }
  const keys = Object.keys(workload.labels).sort().slice(0, MAX_LABELS);
  const labels: Record<string, string> = {};
  for (const k of keys) labels[k.slice(0, MAX_LABEL_KEY)] = workload.labels[k]!.slice(0, MAX_LABEL_VALUE);
  const first = keys[0];
  return { namespace, workload: first === undefined ? '*' : labels[first.slice(0, MAX_LABEL_KEY)]!, labels };
}

/**
 * How the enforced policy treated the request: `wouldDeny` when global dry-run let a denied request through.
 * A staged (dry-run annotated) policy's verdict is kept apart ({@link shadowDenied}): it is not the mesh's
 * decision today, only what it would become.
 */
export function flowOutcome(outcome: CheckOutcome): FlowObservation['outcome'] {
  if (!outcome.allowed) return 'denied';
  return outcome.dryRun ? 'wouldDeny' : 'allowed';
}

export function shadowDenied(outcome: CheckOutcome): boolean {
  return outcome.decision?.shadow.some((s) => !s.wouldAllow) ?? false;
}

/**
 * The observation for one decided Check, or null when there is nothing to learn: a request that could not be
 * parsed, or one that failed for an internal reason (the policy never saw it). The path is templated under the
 * mesh's `normalization`, the one the policies matched it with, so what is learned matches what was allowed.
 */
export function observe(
  outcome: CheckOutcome,
  normalization: PathNormalization = ISTIO_DEFAULTS.pathNormalization,
): FlowObservation | null {
  const input = outcome.input;
  if (input === null || outcome.phase === 'internal' || outcome.phase === 'input') return null;
  const policy = outcome.decision?.policy;
  return {
    source: flowSource(outcome.peer),
    destination: flowDestination(input.workload),
    port: input.destination.port,
    method: cap(input.method, MAX_METHOD),
    path: pathTemplate(input.path, normalization),
    groups: outcome.user?.groups ?? [],
    outcome: flowOutcome(outcome),
    shadowDenied: shadowDenied(outcome),
    policy: policy ? policyName(policy) : '',
    at: input.time,
  };
}
