import { Writable } from 'node:stream';
import type { CheckOutcome } from '../../src/authz/outcome.js';
import type { WireCheckRequest } from '../../src/authz/wire-types.js';
import {
  IdentityError,
  type IdentityInput,
  type IdentityOutcome,
  type IdentityVerifier,
} from '../../src/identity/types.js';
import type {
  AttributeUse,
  CompiledPolicySet,
  Decision,
  PolicyRef,
  RequestAttributes,
  WorkloadRef,
} from '../../src/policy/types.js';
import { NO_ATTRIBUTES } from '../../src/policy/types.js';
import { standInEngine } from '../support/stand-in-engine.js';

/** Shared test fixtures for the telemetry specs and suites: a tiny policy set, an identity stub, a log sink. */

export const ALLOW_ORDERS: PolicyRef = {
  namespace: 'shop',
  name: 'orders-allow',
  action: 'ALLOW',
  source: { file: 'policies/orders.yaml', line: 1 },
};
export const DENY_ADMIN: PolicyRef = {
  namespace: 'shop',
  name: 'deny-admin',
  action: 'DENY',
  source: { file: 'policies/orders.yaml', line: 20 },
};
export const SHADOW_STRICT: PolicyRef = { namespace: 'shop', name: 'strict-dry-run', action: 'ALLOW', source: null };

export const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';

const ALL_ATTRS: AttributeUse = { ...NO_ATTRIBUTES, method: true, path: true, peer: true, user: true };

/**
 * A real (if tiny) compiled policy set for workload shop/app=orders:
 * - `shop/deny-admin` (DENY, rule 0): any path under /admin;
 * - `shop/orders-allow` (ALLOW, rule 0): GET /orders* from the frontend service account;
 * - `shop/strict-dry-run` (dry-run ALLOW, evaluated for requests with an end user or under /admin): only users in
 *   group `admins` — reported as a shadow result.
 */
export function tinyPolicySet(generation = 7): CompiledPolicySet {
  return standInEngine({
    generation,
    attributesFor: () => ALL_ATTRS,
    evaluate(workload: WorkloadRef, req: RequestAttributes): Decision {
      const shadowAllow = req.user?.groups.includes('admins') ?? false;
      const path = req.path.split('?')[0] ?? '';
      const shadow =
        req.user !== null || path.startsWith('/admin')
          ? [{ policy: SHADOW_STRICT, ruleIndex: shadowAllow ? 0 : null, wouldAllow: shadowAllow }]
          : [];
      if (workload.namespace !== 'shop') {
        return deny('no_allow_policy', 'no ALLOW policy selects this workload', null, null, []);
      }
      if (path.startsWith('/admin')) {
        return deny('deny_matched', 'DENY policy shop/deny-admin rule 0 matched', DENY_ADMIN, 0, shadow);
      }
      if (req.method === 'GET' && path.startsWith('/orders') && req.peer?.spiffeId === FRONTEND) {
        return {
          allowed: true,
          code: 'allow_matched',
          reason: 'ALLOW policy shop/orders-allow rule 0 matched',
          policy: ALLOW_ORDERS,
          ruleIndex: 0,
          shadow,
          audit: [],
        };
      }
      return deny('no_allow_matched', 'no rule of an ALLOW policy matched', null, null, shadow);
    },
  });
}

function deny(
  code: Decision['code'],
  reason: string,
  policy: PolicyRef | null,
  ruleIndex: number | null,
  shadow: Decision['shadow'],
): Decision {
  return { allowed: false, code, reason, policy, ruleIndex, shadow, audit: [] };
}

/**
 * Identity stub: the peer is Envoy's `source.principal`; a bearer token `good-*` is user alice (group admins
 * when the token says so), `bad-*` fails as a bad signature. It never echoes a credential in its messages.
 */
export const stubIdentity: IdentityVerifier = {
  verify(input: IdentityInput): IdentityOutcome {
    const auth = input.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (token.startsWith('bad-')) {
      return {
        ok: false,
        error: new IdentityError('jwt_bad_signature', 'the bearer token signature does not verify', {
          wwwAuthenticate: 'Bearer error="invalid_token"',
        }),
      };
    }
    const peer = input.principal
      ? {
          spiffeId: input.principal,
          trustDomain: 'cluster.local',
          namespace: 'shop',
          serviceAccount: 'frontend',
          expiresAt: input.now + 3_600_000,
          credentialId: 'cert-sha256',
        }
      : null;
    const user = token.startsWith('good-')
      ? {
          issuer: 'https://idp.example.com',
          subject: 'alice',
          audiences: ['orders'],
          presenter: null,
          claims: { sub: 'alice', secret_claim: token },
          groups: token.includes('admin') ? ['admins'] : ['staff'],
          expiresAt: input.now + 600_000,
          credentialId: 'jwt-sha256',
        }
      : null;
    return { ok: true, peer, user };
  },
};

/** A CheckRequest for workload shop/app=orders. */
export function checkRequest(opts: {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  principal?: string;
  certificate?: string;
}): WireCheckRequest {
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: '10.0.0.7', portValue: 41000 } },
        principal: opts.principal ?? FRONTEND,
        certificate: opts.certificate ?? '',
      },
      destination: {
        address: { socketAddress: { address: '10.0.0.9', portValue: 8080 } },
        principal: 'spiffe://cluster.local/ns/shop/sa/orders',
      },
      contextExtensions: { namespace: 'shop', app: 'orders' },
      request: {
        time: { seconds: 1_790_000_000, nanos: 0 },
        http: {
          id: 'stream-1',
          method: opts.method ?? 'GET',
          path: opts.path,
          host: 'orders.shop.svc:8080',
          scheme: 'https',
          protocol: 'HTTP/1.1',
          headers: { ':method': opts.method ?? 'GET', ':path': opts.path, ...(opts.headers ?? {}) },
        },
      },
    },
  };
}

/** Collects what pino writes, line by line. */
export class LogSink extends Writable {
  private text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
  get raw(): string {
    return this.text;
  }
  lines(): Record<string, unknown>[] {
    return this.text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  decisions(): Record<string, unknown>[] {
    return this.lines().filter((l) => l.msg === 'decision');
  }
}

/** A decided outcome with sensible defaults, for unit specs. */
export function outcome(overrides: Partial<CheckOutcome> = {}): CheckOutcome {
  return {
    decisionId: 'd-1',
    allowed: false,
    status: 'PERMISSION_DENIED',
    httpStatus: 403,
    phase: 'decision',
    reasonCode: 'no_allow_matched',
    reason: 'no rule of an ALLOW policy matched',
    decision: {
      allowed: false,
      code: 'no_allow_matched',
      reason: 'no rule of an ALLOW policy matched',
      policy: null,
      ruleIndex: null,
      shadow: [],
      audit: [],
    },
    dryRun: false,
    input: null,
    peer: null,
    user: null,
    cacheHit: false,
    policyGeneration: 3,
    durationUs: 42.4,
    wwwAuthenticate: null,
    ...overrides,
  };
}
