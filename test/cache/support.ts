import { makeKeyPlan, workloadKey } from '../../src/authz/cache-key.js';
import type {
  AttributeUse,
  CompiledPolicySet,
  Decision,
  EndUser,
  Explanation,
  KeyPlan,
  PeerIdentity,
  RequestAttributes,
  WorkloadRef,
} from '../../src/policy/types.js';
import { NO_ATTRIBUTES } from '../../src/policy/types.js';
import { standInExplanation } from '../support/stand-in-engine.js';

/** Shared fixtures for the decision cache suites: a tiny policy set whose decision depends on what it says it reads. */

export const NOTHING: AttributeUse = { ...NO_ATTRIBUTES };

export const EVERYTHING: AttributeUse = {
  method: true,
  path: true,
  host: true,
  sourceIp: true,
  remoteIp: true,
  destinationIp: true,
  destinationPort: true,
  sni: true,
  peer: true,
  user: true,
  headers: ['x-role', 'x-tenant'],
  metadata: true,
};

export function decision(allowed: boolean, reason: string): Decision {
  return {
    allowed,
    code: allowed ? 'allow_matched' : 'no_allow_matched',
    reason,
    policy: null,
    ruleIndex: null,
    shadow: [],
    audit: [],
  };
}

/**
 * A policy set that reads exactly `use` and allows when a fingerprint of the read attributes is in `allowed`
 * (so any read attribute can flip the decision). Counts evaluations, so tests can tell hits from misses.
 */
export class FakePolicySet implements CompiledPolicySet {
  evaluations = 0;
  constructor(
    readonly generation: number,
    readonly use: AttributeUse,
    readonly allow: (request: RequestAttributes, workload: WorkloadRef) => boolean,
  ) {}

  evaluate(workload: WorkloadRef, request: RequestAttributes): Decision {
    this.evaluations++;
    const allowed = this.allow(request, workload);
    return decision(allowed, `gen ${this.generation}: ${allowed ? 'allowed' : 'denied'}`);
  }

  attributesFor(): AttributeUse {
    return this.use;
  }

  /** Keyed by the whole workload: `allow` may read any of it. */
  keyPlanFor(workload: WorkloadRef): KeyPlan {
    return makeKeyPlan(this, workload, workloadKey(workload));
  }

  explain(workload: WorkloadRef, request: RequestAttributes): Explanation {
    return standInExplanation(this, workload, request);
  }

  /** A stand-in: the cache suites do not measure coverage. */
  uncovered(): WorkloadRef[] {
    return [];
  }
}

export const T0 = Date.UTC(2026, 0, 1);

export function peer(id: string, expiresAt = T0 + 3_600_000, credentialId = `cert-${id}`): PeerIdentity {
  return {
    spiffeId: `spiffe://cluster.local/ns/shop/sa/${id}`,
    trustDomain: 'cluster.local',
    namespace: 'shop',
    serviceAccount: id,
    expiresAt,
    credentialId,
  };
}

export function user(
  subject: string,
  groups: string[],
  expiresAt = T0 + 600_000,
  credentialId = `tok-${subject}`,
): EndUser {
  return {
    issuer: 'https://issuer.example',
    subject,
    audiences: ['shop'],
    presenter: null,
    claims: { sub: subject, groups },
    groups,
    expiresAt,
    credentialId,
  };
}

export function request(overrides: Partial<RequestAttributes> = {}): RequestAttributes {
  return {
    method: 'GET',
    path: '/api/orders?limit=5',
    host: 'orders.shop.svc:8080',
    headers: { 'x-role': 'reader' },
    sourceIp: '10.0.0.1',
    remoteIp: '10.0.0.1',
    destinationIp: '10.0.0.2',
    destinationPort: 8080,
    sni: 'outbound_.8080_._.orders.shop.svc.cluster.local',
    peer: peer('frontend'),
    user: user('alice', ['shoppers']),
    filterMetadata: {},
    ...overrides,
  };
}

export const ORDERS: WorkloadRef = { namespace: 'shop', labels: { app: 'orders' } };
