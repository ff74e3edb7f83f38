import { tryParseSpiffeId } from '../identity/spiffe-id.js';
import type { CompiledPolicySet, WorkloadRef } from '../policy/types.js';
import {
  EMPTY_REGISTRY,
  type RegisteredWorkload,
  type WorkloadRegistry,
  type WorkloadResolution,
} from './workloads.js';

export interface PeerInput {
  readonly address: string;
  readonly port: number;
  readonly principal: string;
  /** URL-encoded PEM leaf (only with Envoy's include_peer_certificate), or ''. */
  readonly certificate: string;
  readonly service: string;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * Which workload a request is for, and how that was found. Envoy does not always say: Istio's `CUSTOM` filter
 * sends no `context_extensions` and no `destination.labels`, only the destination address and principal, so the
 * labels come from a {@link WorkloadRegistry} or stay unknown. Unknown labels are never guessed as `{}`: the
 * pipeline denies with `workload_unresolved` when a selector could have mattered (see {@link unresolvedReason}).
 */

export interface ResolvedWorkload {
  readonly workload: WorkloadRef;
  readonly resolution: WorkloadResolution;
  /** The registry's name for the workload (pod or config entry), or ''. */
  readonly name: string;
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Resolution order: the route's `context_extensions` (key `namespace`, every other key a label; at least one label
 * key is needed to count as the workload's labels), then `destination.labels`, then the registry by destination
 * IP, then the registry by destination principal (namespace + service account) when exactly one workload matches.
 *
 * A namespace given by `context_extensions` is authoritative: registry answers in another namespace are ignored
 * (a stale pod IP reused by another namespace must not lend its labels). A registry entry whose namespace or
 * service account contradicts the destination principal is ignored for the same reason.
 */
export function resolveDestination(
  ext: Readonly<Record<string, string>>,
  destination: PeerInput,
  registry: WorkloadRegistry = EMPTY_REGISTRY,
): ResolvedWorkload {
  let extNamespace = '';
  let extLabels: Record<string, string> | null = null;
  for (const key of Object.keys(ext)) {
    if (key === 'namespace') extNamespace = ext[key] ?? '';
    else {
      extLabels ??= {};
      extLabels[key] = ext[key] ?? '';
    }
  }
  // The hot path of a configured sidecar: the route names namespace and labels, nothing else to read.
  if (extLabels !== null && extNamespace !== '') return found(extNamespace, extLabels, 'context_extensions');
  const principal = destination.principal === '' ? null : tryParseSpiffeId(destination.principal);
  const principalNs = principal?.namespace ?? '';
  const principalSa = principal?.serviceAccount ?? '';
  const namespace = extNamespace || principalNs;

  if (extLabels !== null) return found(namespace, extLabels, 'context_extensions');
  if (Object.keys(destination.labels).length > 0) {
    return found(namespace, { ...destination.labels }, 'destination_labels');
  }
  // Lookups are only trusted once the registry has loaded fully; before that, nothing is known.
  if (registry.synced) {
    const consistent = (w: RegisteredWorkload) =>
      (namespace === '' || w.namespace === namespace) &&
      (principalNs === '' || w.namespace === principalNs) &&
      (principalSa === '' || w.serviceAccount === undefined || w.serviceAccount === principalSa);
    const byIp = destination.address === '' ? undefined : registry.byAddress(destination.address);
    if (byIp !== undefined && consistent(byIp)) return fromRegistry(byIp, 'registry_address');
    if (principalNs !== '' && principalSa !== '') {
      const one = single(registry.byServiceAccount(principalNs, principalSa).filter(consistent));
      if (one !== undefined) return fromRegistry(one, 'registry_principal');
    }
  }
  return {
    workload: { namespace, labels: EMPTY },
    resolution: namespace === '' ? 'unresolved' : 'namespace_only',
    name: '',
  };
}

function found(namespace: string, labels: Record<string, string>, resolution: WorkloadResolution): ResolvedWorkload {
  return { workload: { namespace, labels }, resolution, name: '' };
}

function fromRegistry(w: RegisteredWorkload, resolution: WorkloadResolution): ResolvedWorkload {
  const workload: WorkloadRef = {
    namespace: w.namespace,
    labels: w.labels,
    ...(w.serviceAccount !== undefined ? { serviceAccount: w.serviceAccount } : {}),
    ...(w.targets !== undefined ? { targets: w.targets } : {}),
  };
  return { workload, resolution, name: w.name ?? '' };
}

/**
 * The one workload of a service account, or undefined. Replicas of one workload (same namespace and labels) count
 * as one; anything else is ambiguous, and an ambiguous answer is no answer.
 */
function single(list: readonly RegisteredWorkload[]): RegisteredWorkload | undefined {
  if (list.length === 0) return undefined;
  const first = list[0]!;
  for (let i = 1; i < list.length; i++) if (!sameLabels(first.labels, list[i]!.labels)) return undefined;
  return first;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * Fail closed on an unknown workload: why the request must be denied before evaluation, or null when the
 * policies can be evaluated. Unknown namespace → always denied (its namespace policies cannot be found). Known
 * namespace but unknown labels → denied when an enforced policy of that namespace or the root namespace has a
 * selector (its answer depends on labels we do not have); otherwise the namespace is enough.
 */
/** Whether a resolution left the workload's labels unknown (only then can {@link unresolvedReason} deny). */
export function labelsUnknown(resolution: WorkloadResolution): boolean {
  return resolution === 'namespace_only' || resolution === 'unresolved';
}

export function unresolvedReason(set: CompiledPolicySet, resolved: ResolvedWorkloadView): string | null {
  if (resolved.resolution === 'unresolved' || resolved.workload.namespace === '') {
    return 'the destination workload is unknown (no context_extensions, destination labels, registry entry or principal namespace)';
  }
  if (resolved.resolution !== 'namespace_only') return null;
  if (set.labelsMatter?.(resolved.workload.namespace) === false) return null;
  return `the destination workload's labels in namespace ${resolved.workload.namespace} are unknown, and policies there select workloads by label`;
}

/** What {@link unresolvedReason} reads (a {@link ResolvedWorkload}, or a CheckInput's fields). */
export interface ResolvedWorkloadView {
  readonly workload: WorkloadRef;
  readonly resolution: WorkloadResolution;
}
