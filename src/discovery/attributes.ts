import type { EndUser, PeerIdentity, RequestAttributes, WorkloadRef } from '../policy/types.js';
import type { FlowRecord, FlowSource } from './types.js';

/**
 * A representative request for a flow, for evaluating flows against a policy set offline. Template segments
 * become a concrete segment (`{*}` and `{**}` → `x`): a path rule that admits the template admits this request.
 * The caller's identity is taken as verified (it was, when recorded); groups become a `groups` claim.
 */
export function flowRequest(f: FlowRecord): RequestAttributes {
  return {
    method: f.method,
    path: f.path.replaceAll('{**}', 'x').replaceAll('{*}', 'x'),
    host: '',
    headers: {},
    sourceIp: '',
    remoteIp: '',
    destinationIp: '',
    destinationPort: f.port,
    sni: '',
    peer: peerOf(f.source),
    user: f.groups.length > 0 ? userWithGroups(f.groups) : null,
    filterMetadata: {},
  };
}

export function peerOf(s: FlowSource): PeerIdentity | null {
  if (s.spiffeId === '') return null;
  return {
    spiffeId: s.spiffeId,
    trustDomain: s.trustDomain,
    namespace: s.namespace === '' ? null : s.namespace,
    serviceAccount: s.serviceAccount === '' ? null : s.serviceAccount,
    expiresAt: Number.MAX_SAFE_INTEGER,
    credentialId: `flow:${s.spiffeId}`,
  };
}

function userWithGroups(groups: readonly string[]): EndUser {
  return {
    issuer: '',
    subject: '',
    audiences: [],
    presenter: null,
    claims: { groups: [...groups] },
    groups,
    expiresAt: Number.MAX_SAFE_INTEGER,
    credentialId: `groups:${groups.join(',')}`,
  };
}

export function workloadOf(f: FlowRecord): WorkloadRef {
  return { namespace: f.destination.namespace, labels: f.destination.labels };
}

/** A caller identity for a known workload's service account. */
export function identityFor(namespace: string, serviceAccount: string, trustDomain: string): FlowSource {
  return {
    spiffeId: `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`,
    trustDomain,
    namespace,
    serviceAccount,
  };
}
