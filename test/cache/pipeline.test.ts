import { describe, expect, it } from 'vitest';
import { LruDecisionCache } from '../../src/authz/cache.js';
import { CheckPipeline } from '../../src/authz/pipeline.js';
import type { WireCheckRequest } from '../../src/authz/wire-types.js';
import type { IdentityInput, IdentityOutcome, IdentityVerifier } from '../../src/identity/types.js';
import { IdentityError } from '../../src/identity/types.js';
import type { CompiledPolicySet } from '../../src/policy/types.js';
import { FakePolicySet, NOTHING, peer, T0, user } from './support.js';

/**
 * The decision cache inside the real Check pipeline: the three promises of issue 6, each shown through full checks.
 * A frozen clock drives both the cache and the identity verifier.
 */

const clock = { now: T0 };

/** Verifies `x-peer` / `x-user` headers as stand-ins for a certificate and a token, with fixed expiries. */
class StubVerifier implements IdentityVerifier {
  verify(input: IdentityInput): IdentityOutcome {
    const p = input.headers['x-peer'];
    const u = input.headers['x-user'];
    if (p && T0 + 10_000 <= clock.now) {
      return { ok: false, error: new IdentityError('svid_expired', 'the peer certificate has expired') };
    }
    return {
      ok: true,
      peer: p ? peer(p, T0 + 10_000) : null,
      user: u ? user(u, u === 'admin' ? ['admins'] : ['shoppers'], T0 + 1_000_000) : null,
    };
  }
}

function wire(path: string, headers: Record<string, string>): WireCheckRequest {
  return {
    attributes: {
      contextExtensions: { namespace: 'shop', app: 'orders' },
      request: { http: { method: 'GET', path, host: 'orders', headers } },
    },
  };
}

function pipelineWith(current: { set: CompiledPolicySet }, cache: LruDecisionCache) {
  return new CheckPipeline({
    policies: () => current.set,
    identity: new StubVerifier(),
    mode: 'enforce',
    cache,
  });
}

describe('decision cache in the Check pipeline', () => {
  it('never serves a cached decision across a policy change', async () => {
    clock.now = T0;
    const cache = new LruDecisionCache({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 600_000, now: () => clock.now });
    const allowing = new FakePolicySet(1, { ...NOTHING, path: true }, () => true);
    const current: { set: CompiledPolicySet } = { set: allowing };
    const pipeline = pipelineWith(current, cache);
    const first = await pipeline.check(wire('/api', {}));
    const second = await pipeline.check(wire('/api', {}));
    expect(first.allowed && second.allowed).toBe(true);
    expect(second.cacheHit).toBe(true);

    // Denied because generation 2 denies everything: the generation-1 allow must not be replayed.
    const denying = new FakePolicySet(2, { ...NOTHING, path: true }, () => false);
    current.set = denying;
    const after = await pipeline.check(wire('/api', {}));
    expect(after.allowed).toBe(false);
    expect(after.cacheHit).toBe(false);
    expect(after.policyGeneration).toBe(2);
    expect(denying.evaluations).toBe(1);
  });

  it('never serves a cached decision past the peer identity expiry', async () => {
    clock.now = T0;
    const cache = new LruDecisionCache({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 600_000, now: () => clock.now });
    const set = new FakePolicySet(1, { ...NOTHING, peer: true }, (r) => r.peer?.serviceAccount === 'frontend');
    const pipeline = pipelineWith({ set }, cache);
    expect((await pipeline.check(wire('/api', { 'x-peer': 'frontend' }))).allowed).toBe(true);
    clock.now = T0 + 9_999;
    const hit = await pipeline.check(wire('/api', { 'x-peer': 'frontend' }));
    expect(hit.cacheHit).toBe(true);

    // Denied: the certificate expired at T0+10s; the cached allow computed for it must be gone.
    clock.now = T0 + 10_000;
    expect(cache.get(set, { namespace: 'shop', labels: { app: 'orders' } }, hitAttrs(hit))).toBeUndefined();
    const late = await pipeline.check(wire('/api', { 'x-peer': 'frontend' }));
    expect(late.allowed).toBe(false);
    expect(late.status).toBe('UNAUTHENTICATED');
  });

  it('never shares an entry between two requests that differ only in an attribute a policy reads', async () => {
    clock.now = T0;
    const cache = new LruDecisionCache({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 600_000, now: () => clock.now });
    const set = new FakePolicySet(1, { ...NOTHING, user: true, headers: ['x-tenant'] }, (r) => {
      return (r.user?.groups.includes('admins') ?? false) && r.headers['x-tenant'] === 'acme';
    });
    const pipeline = pipelineWith({ set }, cache);
    const admin = await pipeline.check(wire('/api', { 'x-user': 'admin', 'x-tenant': 'acme' }));
    expect(admin.allowed).toBe(true);
    // Denied: same request but another end user (not in `admins`).
    const other = await pipeline.check(wire('/api', { 'x-user': 'bob', 'x-tenant': 'acme' }));
    expect(other.allowed).toBe(false);
    expect(other.cacheHit).toBe(false);
    // Denied: same user, another value of the one header the policy reads.
    const tenant = await pipeline.check(wire('/api', { 'x-user': 'admin', 'x-tenant': 'evil' }));
    expect(tenant.allowed).toBe(false);
    expect(tenant.cacheHit).toBe(false);
    // Allowed from the cache: only an unread attribute (the path) differs.
    const repeat = await pipeline.check(wire('/other', { 'x-user': 'admin', 'x-tenant': 'acme' }));
    expect(repeat.allowed).toBe(true);
    expect(repeat.cacheHit).toBe(true);
    expect(set.evaluations).toBe(3);
  });
});

function hitAttrs(result: Awaited<ReturnType<CheckPipeline['check']>>) {
  const input = result.input!;
  return {
    method: input.method,
    path: input.rawPath,
    host: input.host,
    headers: input.headers,
    sourceIp: '',
    remoteIp: '',
    destinationIp: '',
    destinationPort: 0,
    sni: '',
    peer: result.peer,
    user: result.user,
    filterMetadata: {},
  };
}

describe('synchronous answers', () => {
  it('decides in the same tick when identities verify synchronously, and waits only for a pending one', async () => {
    clock.now = T0;
    const set = new FakePolicySet(1, { ...NOTHING, path: true }, () => true);
    const cache = new LruDecisionCache({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 600_000, now: () => clock.now });
    const sync = pipelineWith({ set }, cache);
    const answered = sync.check(wire('/api', { 'x-peer': 'frontend' }));
    // Not a Promise: the server sends this answer without a trip through the microtask queue.
    expect(answered instanceof Promise).toBe(false);
    expect((answered as Awaited<typeof answered>).allowed).toBe(true);

    // A verifier still fetching a key (first sight of a token) makes the check wait for it.
    let release: (o: IdentityOutcome) => void = () => {};
    const slow = new CheckPipeline({
      policies: () => set,
      identity: { verify: () => new Promise<IdentityOutcome>((r) => (release = r)) },
      mode: 'enforce',
      defaultTimeoutMs: 5_000,
    });
    const waiting = slow.check(wire('/api', {}));
    expect(waiting instanceof Promise).toBe(true);
    release({ ok: true, peer: null, user: null });
    expect((await waiting).allowed).toBe(true);
  });

  it('never throws: an exception inside a synchronous check becomes an UNAVAILABLE deny', () => {
    const broken = new CheckPipeline({
      policies: () => {
        throw new Error('policy store exploded');
      },
      identity: new StubVerifier(),
      mode: 'enforce',
    });
    const result = broken.check(wire('/api', {}));
    expect(result instanceof Promise).toBe(false);
    const outcome = result as Awaited<typeof result>;
    expect(outcome.allowed).toBe(false);
    expect(outcome.status).toBe('UNAVAILABLE');
    expect(outcome.reasonCode).toBe('internal');
  });
});
