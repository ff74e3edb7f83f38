import type { CheckInput } from '../../src/authz/input.js';
import type { CheckOutcome } from '../../src/authz/outcome.js';
import type { Decision, EndUser, PeerIdentity } from '../../src/policy/types.js';

/** Builders for CheckOutcomes as the pipeline hands them to observers (only the fields discovery reads matter). */

export function peer(ns: string, sa: string, td = 'cluster.local'): PeerIdentity {
  return {
    spiffeId: `spiffe://${td}/ns/${ns}/sa/${sa}`,
    trustDomain: td,
    namespace: ns,
    serviceAccount: sa,
    expiresAt: Number.MAX_SAFE_INTEGER,
    credentialId: `${ns}-${sa}`,
  };
}

export function user(groups: string[]): EndUser {
  return {
    issuer: 'https://idp.example',
    subject: 'alice',
    audiences: ['shop'],
    presenter: null,
    claims: { groups },
    groups,
    expiresAt: Number.MAX_SAFE_INTEGER,
    credentialId: 'tok',
  };
}

export interface OutcomeSpec {
  readonly from: PeerIdentity | null;
  readonly ns: string;
  readonly app: string;
  readonly port?: number;
  readonly method?: string;
  readonly path: string;
  readonly allowed?: boolean;
  readonly dryRun?: boolean;
  readonly shadowDeny?: boolean;
  readonly groups?: string[];
  readonly time?: number;
}

export function outcome(s: OutcomeSpec): CheckOutcome {
  // `allowed` is the policy's decision; `dryRun` is the global mode, which lets a denied request through.
  const allowed = s.allowed ?? true;
  const passedByDryRun = !allowed && (s.dryRun ?? false);
  const input: CheckInput = {
    requestId: 'r',
    time: s.time ?? Date.UTC(2026, 0, 1),
    requestTime: null,
    method: s.method ?? 'GET',
    rawPath: s.path,
    path: s.path.split('?')[0]!,
    query: '',
    host: `${s.app}.${s.ns}`,
    scheme: 'http',
    protocol: 'HTTP/1.1',
    headers: {},
    source: { address: '10.0.0.1', port: 40000, principal: '', certificate: '', service: '', labels: {} },
    destination: {
      address: '10.0.0.2',
      port: s.port ?? 8080,
      principal: '',
      certificate: '',
      service: '',
      labels: {},
    },
    workload: { namespace: s.ns, labels: { app: s.app, 'pod-template-hash': 'abc123' } },
    workloadResolution: 'registry_address',
    workloadName: '',
    contextExtensions: {},
    filterMetadata: {},
    sni: '',
  };
  const decision: Decision = {
    allowed,
    code: allowed ? 'allow_matched' : 'no_allow_matched',
    reason: '',
    policy: allowed ? { namespace: s.ns, name: 'current', action: 'ALLOW', source: null } : null,
    ruleIndex: allowed ? 0 : null,
    shadow: s.shadowDeny
      ? [
          {
            policy: { namespace: s.ns, name: 'staged', action: 'ALLOW', source: null },
            ruleIndex: null,
            wouldAllow: false,
          },
        ]
      : [],
    audit: [],
  };
  return {
    decisionId: 'd',
    allowed: allowed || passedByDryRun,
    status: allowed || passedByDryRun ? 'OK' : 'PERMISSION_DENIED',
    httpStatus: allowed || passedByDryRun ? 200 : 403,
    phase: 'decision',
    reasonCode: decision.code,
    reason: '',
    decision,
    dryRun: passedByDryRun,
    input,
    peer: s.from,
    user: s.groups ? user(s.groups) : null,
    cacheHit: false,
    policyGeneration: 1,
    durationUs: 10,
    wwwAuthenticate: null,
  };
}
