/**
 * JWT attack suite: end-user tokens (OIDC issuers) and JWT-SVIDs. Every token is minted here with jose; each bad
 * one states why it is refused and the reason code the operator sees. Frozen clock: NOW.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSPKI, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdentityErrorCode, IdentityOutcome } from '../../src/identity/index.js';
import { createIdentityVerifier, type ManagedIdentityVerifier } from '../../src/sources/identity.js';
import { fakeFetch, identityConfig } from '../support/identity-config.js';
import { BASE_TIME, createTokenIssuer, spiffeBundle, type TokenIssuer } from '../support/pki.js';

const NOW = BASE_TIME;
const NOW_S = NOW / 1000;
const IDP = 'https://idp.example.com';
const JWKS_URL = 'https://idp.example.com/.well-known/jwks.json';
const OTHER = 'https://other-idp.example.com';
const OTHER_JWKS = 'https://other-idp.example.com/jwks';

let idp: TokenIssuer;
let rogue: TokenIssuer;
let other: TokenIssuer;
let svidSigner: TokenIssuer;
let verifier: ManagedIdentityVerifier;
const net = fakeFetch();

function b64url(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

async function check(headers: Record<string, string>, now = NOW): Promise<IdentityOutcome> {
  return await verifier.verify({ certificate: '', principal: '', headers, filterMetadata: {}, now });
}

async function deniedWith(headers: Record<string, string>, now = NOW) {
  const out = await check(headers, now);
  if (out.ok) throw new Error('expected the token to be refused');
  return out.error;
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  idp = await createTokenIssuer(IDP, { kid: 'idp-1' });
  rogue = await createTokenIssuer(IDP, { kid: 'rogue-1' });
  other = await createTokenIssuer(OTHER, { kid: 'other-1', alg: 'RS256' });
  svidSigner = await createTokenIssuer('unused', { kid: 'svid-1' });
  net.serve(JWKS_URL, idp.jwks);
  net.serve(OTHER_JWKS, other.jwks);
  const dir = await mkdtemp(join(tmpdir(), 'jwt-attacks-'));
  await writeFile(
    join(dir, 'example.org.json'),
    JSON.stringify(await spiffeBundle([], [{ kid: 'svid-1', publicKey: svidSigner.keys.publicKey }])),
  );
  verifier = await createIdentityVerifier(
    identityConfig({
      trustBundles: [{ trustDomain: 'example.org', spiffeBundle: 'example.org.json' }],
      jwt: {
        issuers: [
          {
            issuer: IDP,
            jwks: { url: JWKS_URL },
            audiences: ['orders'],
            algorithms: ['ES256'],
            leewaySeconds: 30,
            groupsClaims: ['groups', 'realm_access.roles'],
          },
          {
            issuer: OTHER,
            jwks: { url: OTHER_JWKS },
            audiences: ['orders'],
            algorithms: ['RS256'],
            fromHeaders: [{ name: 'x-other-token', prefix: '' }],
          },
        ],
        jwtSvid: { audiences: ['spiffe://example.org/ns/shop/sa/orders'] },
      },
    }),
    { resolvePath: (p) => join(dir, p), fetch: net.fetch, watch: false },
  );
});

afterAll(() => verifier.close());

describe('valid end-user tokens', () => {
  it('yields the user, audiences and groups from several claims', async () => {
    const token = await idp.sign({
      sub: 'alice',
      aud: 'orders',
      azp: 'web',
      groups: ['admins', 'dev'],
      realm_access: { roles: 'auditor' },
    });
    const out = await check(bearer(token));
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.peer).toBeNull();
    expect(out.user).toMatchObject({ issuer: IDP, subject: 'alice', audiences: ['orders'], presenter: 'web' });
    expect(out.user?.groups).toEqual(['admins', 'dev', 'auditor']);
    // Policies read request.auth.claims[groups]: it carries every configured groups claim.
    expect(out.user?.claims.groups).toEqual(['admins', 'dev', 'auditor']);
    expect(out.user?.expiresAt).toBe((NOW_S + 3600) * 1000);
    expect(JSON.stringify(out.user)).not.toContain(token);
  });

  it('a single-string groups claim is one group', async () => {
    const out = await check(bearer(await idp.sign({ sub: 'bob', aud: ['x', 'orders'], groups: 'ops' })));
    expect(out.ok && out.user?.groups).toEqual(['ops']);
  });

  it('answers a repeat token synchronously from the cache, until it expires', async () => {
    const token = await idp.sign({ sub: 'carol', aud: 'orders' }, { ttlSeconds: 60 });
    await check(bearer(token));
    const again = verifier.verify({
      certificate: '',
      principal: '',
      headers: bearer(token),
      filterMetadata: {},
      now: NOW,
    });
    expect(again).not.toBeInstanceOf(Promise);
    expect((again as IdentityOutcome).ok).toBe(true);
    const late = await deniedWith(bearer(token), NOW + 120_000);
    expect(late.code).toBe('jwt_expired');
  });

  it('never serves a cached verdict to a forged token sharing its cache slot (same length, same signature)', async () => {
    const token = await idp.sign({ sub: 'erin', aud: 'orders', groups: ['dev'] });
    expect((await check(bearer(token))).ok).toBe(true);
    // Attack: rewrite the payload's groups from 'dev' to 'adm' (same length), keep
    // the real signature. Same length and tail, so the same cache slot; were the hit not confirmed against the
    // whole token, the forged groups would ride on the cached verdict. It must be verified, and the signature fails.
    const [h, p, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forgedPayload = b64url({ ...claims, groups: ['adm'] });
    expect(forgedPayload.length).toBe(p!.length);
    const forged = `${h}.${forgedPayload}.${sig}`;
    expect(forged.slice(-64)).toBe(token.slice(-64));
    const refused = await deniedWith(bearer(forged));
    expect(refused.code).toBe('jwt_bad_signature');
    // The real token still verifies, with its real groups.
    const again = await check(bearer(token));
    expect(again.ok && again.user?.groups).toEqual(['dev']);
  });

  it('the leeway accepts a token a few seconds past exp', async () => {
    const token = await idp.sign({ sub: 'dave', aud: 'orders' }, { ttlSeconds: 10 });
    expect((await check(bearer(token), NOW + 25_000)).ok).toBe(true);
  });

  it('no token at all is anonymous, not an error', async () => {
    const out = await check({});
    expect(out).toEqual({ ok: true, peer: null, user: null });
  });

  it('an Authorization header with another scheme is not a bearer credential', async () => {
    const out = await check({ authorization: 'Basic YWxpY2U6cGFzcw==' });
    expect(out).toEqual({ ok: true, peer: null, user: null });
  });
});

interface TokenAttack {
  readonly name: string;
  readonly why: string;
  readonly code: IdentityErrorCode;
  readonly headers: () => Promise<Record<string, string>>;
  readonly now?: number;
}

const attacks: readonly TokenAttack[] = [
  {
    name: 'alg: none',
    why: 'an unsigned token proves nothing; the algorithm list comes from config, never the token',
    code: 'jwt_alg_not_allowed',
    headers: async () =>
      bearer(
        `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: IDP, sub: 'mallory', aud: 'orders', exp: NOW_S + 60 })}.`,
      ),
  },
  {
    name: 'HS256 signed with the issuer public key as the HMAC secret',
    why: 'key confusion: a public key is public, so an HMAC over it can be forged by anyone',
    code: 'jwt_alg_not_allowed',
    headers: async () => {
      const secret = new TextEncoder().encode(await exportSPKI(idp.keys.publicKey));
      const token = await new SignJWT({ iss: IDP, sub: 'mallory', aud: 'orders', exp: NOW_S + 60 })
        .setProtectedHeader({ alg: 'HS256', kid: 'idp-1' })
        .sign(secret);
      return bearer(token);
    },
  },
  {
    name: 'RS256 token for an issuer allowed ES256 only',
    why: 'the per-issuer algorithm allow-list is fixed by config',
    code: 'jwt_alg_not_allowed',
    headers: async () => {
      // Signed with a real RSA key (the other issuer's), claiming this issuer.
      const t = await new SignJWT({ iss: IDP, sub: 'mallory', aud: 'orders', exp: NOW_S + 60 })
        .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
        .sign(other.keys.privateKey);
      return bearer(t);
    },
  },
  {
    name: 'unknown kid',
    why: 'no key of the issuer has this kid, even after a refetch of the JWKS',
    code: 'jwt_unknown_kid',
    headers: async () => bearer(await rogue.sign({ sub: 'mallory', aud: 'orders' })),
  },
  {
    name: 'known kid but signed by another key',
    why: 'the signature must verify with the key the kid names',
    code: 'jwt_bad_signature',
    headers: async () => {
      const impostor = await createTokenIssuer(IDP, { kid: 'idp-1' });
      return bearer(await impostor.sign({ sub: 'mallory', aud: 'orders' }));
    },
  },
  {
    name: 'wrong issuer',
    why: 'only configured issuers are trusted',
    code: 'jwt_issuer',
    headers: async () => {
      const evil = await createTokenIssuer('https://evil.example.com', { kid: 'idp-1' });
      return bearer(await evil.sign({ sub: 'mallory', aud: 'orders' }));
    },
  },
  {
    name: 'wrong audience',
    why: 'a token for another service must not be replayed here',
    code: 'jwt_audience',
    headers: async () => bearer(await idp.sign({ sub: 'alice', aud: 'billing' })),
  },
  {
    name: 'missing audience',
    why: 'an audience-less token is valid everywhere; we require ours',
    code: 'jwt_audience',
    headers: async () => bearer(await idp.sign({ sub: 'alice' })),
  },
  {
    name: 'expired',
    why: 'exp is checked at the request time (beyond the 30 s leeway)',
    code: 'jwt_expired',
    headers: async () =>
      bearer(await idp.sign({ sub: 'alice', aud: 'orders' }, { now: NOW - 7200_000, ttlSeconds: 60 })),
  },
  {
    name: 'not yet valid (nbf)',
    why: 'nbf in the future beyond the leeway',
    code: 'jwt_not_yet_valid',
    headers: async () => bearer(await idp.sign({ sub: 'alice', aud: 'orders', nbf: NOW_S + 600 })),
  },
  {
    name: 'issued in the future (iat)',
    why: 'a token from the future means a broken or hostile issuer clock',
    code: 'jwt_not_yet_valid',
    headers: async () => bearer(await idp.sign({ sub: 'alice', aud: 'orders', iat: NOW_S + 600 })),
  },
  {
    name: 'tampered payload (groups added after signing)',
    why: 'the signature covers the payload',
    code: 'jwt_bad_signature',
    headers: async () => {
      const [h, , s] = (await idp.sign({ sub: 'alice', aud: 'orders', groups: ['dev'] })).split('.');
      const forged = b64url({
        iss: IDP,
        sub: 'alice',
        aud: 'orders',
        groups: ['admins'],
        iat: NOW_S,
        exp: NOW_S + 3600,
      });
      return bearer(`${h}.${forged}.${s}`);
    },
  },
  {
    name: 'no exp claim',
    why: 'a token that never expires cannot be cached or revoked by time',
    code: 'jwt_claims',
    headers: async () => {
      const t = await new SignJWT({ iss: IDP, sub: 'alice', aud: 'orders' })
        .setProtectedHeader({ alg: 'ES256', kid: 'idp-1' })
        .sign(idp.keys.privateKey);
      return bearer(t);
    },
  },
  {
    name: 'no sub claim',
    why: 'requestPrincipals is <iss>/<sub>: without sub there is no principal',
    code: 'jwt_claims',
    headers: async () => bearer(await idp.sign({ aud: 'orders' })),
  },
  {
    name: 'token of issuer B in the Authorization header, where only issuer A reads',
    why: 'each issuer names the headers its tokens may come from',
    code: 'jwt_issuer',
    headers: async () => bearer(await other.sign({ sub: 'alice', aud: 'orders' })),
  },
  {
    name: 'two different bearer tokens',
    why: 'which token the policy sees must not depend on header order the client controls',
    code: 'jwt_malformed',
    headers: async () => ({
      authorization: `Bearer ${await idp.sign({ sub: 'alice', aud: 'orders' })}`,
      'x-other-token': await other.sign({ sub: 'root', aud: 'orders' }),
    }),
  },
  {
    name: 'garbage after Bearer',
    why: 'a presented credential that is not a JWT is invalid, not absent',
    code: 'jwt_malformed',
    headers: async () => ({ authorization: 'Bearer not-a-jwt' }),
  },
  {
    name: 'two Authorization headers joined by the proxy',
    why: 'ambiguous credentials are refused',
    code: 'jwt_malformed',
    headers: async () => {
      const t = await idp.sign({ sub: 'alice', aud: 'orders' });
      return { authorization: `Bearer ${t},Bearer ${t}` };
    },
  },
];

describe('bad end-user tokens are refused with the right reason', () => {
  it.each(attacks.map((a) => [a.name, a] as const))('%s', async (_n, attack) => {
    const headers = await attack.headers();
    const err = await deniedWith(headers, attack.now);
    expect(err.code, attack.why).toBe(attack.code);
    expect(err.wwwAuthenticate).toMatch(/^Bearer error="invalid_token", error_description="[^"]+"$/);
    for (const v of Object.values(headers)) {
      const token = v.replace(/^Bearer /, '');
      expect(err.safeMessage).not.toContain(token.split('.')[1] ?? token);
      expect(err.wwwAuthenticate).not.toContain(token.split('.')[1] ?? token);
    }
  });

  it('a token in a header no issuer reads is not a credential at all (anonymous; policies then deny)', async () => {
    const out = await check({ 'x-token': await idp.sign({ sub: 'alice', aud: 'orders' }) });
    expect(out).toEqual({ ok: true, peer: null, user: null });
  });

  it('an unknown kid refetches the JWKS at most once per cooldown', async () => {
    const before = net.calls.get(JWKS_URL) ?? 0;
    await deniedWith(bearer(await rogue.sign({ sub: 'm1', aud: 'orders' })));
    await deniedWith(bearer(await rogue.sign({ sub: 'm2', aud: 'orders' })));
    // The attack suite above already spent this cooldown window: no fetch storm from made-up kids.
    expect((net.calls.get(JWKS_URL) ?? 0) - before).toBeLessThanOrEqual(1);
  });
});

describe('JWT-SVIDs', () => {
  const ORDERS = 'spiffe://example.org/ns/shop/sa/orders';
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    svidSigner.sign({ iss: undefined, ...claims }, { header: { kid: 'svid-1', ...header } });

  it('a valid JWT-SVID names the peer workload', async () => {
    const out = await check(bearer(await sign({ sub: 'spiffe://example.org/ns/shop/sa/cart', aud: ORDERS })));
    expect(out.ok && out.peer).toMatchObject({
      spiffeId: 'spiffe://example.org/ns/shop/sa/cart',
      namespace: 'shop',
      serviceAccount: 'cart',
    });
    expect(out.ok && out.user).toBeNull();
  });

  it.each<[string, IdentityErrorCode, () => Promise<string>]>([
    [
      'wrong audience',
      'jwt_audience',
      () => sign({ sub: 'spiffe://example.org/ns/a/sa/b', aud: 'spiffe://example.org/x' }),
    ],
    [
      'trust domain without bundle',
      'svid_untrusted_domain',
      () => sign({ sub: 'spiffe://evil.org/ns/a/sa/b', aud: ORDERS }),
    ],
    [
      'unknown kid',
      'jwt_unknown_kid',
      () => sign({ sub: 'spiffe://example.org/ns/a/sa/b', aud: ORDERS }, { kid: 'nope' }),
    ],
    [
      'typ is not JWT/JOSE',
      'jwt_malformed',
      () => sign({ sub: 'spiffe://example.org/ns/a/sa/b', aud: ORDERS }, { typ: 'at+jwt' }),
    ],
    ['sub without path', 'jwt_claims', () => sign({ sub: 'spiffe://example.org', aud: ORDERS })],
    [
      'HS256 JWT-SVID',
      'jwt_alg_not_allowed',
      () =>
        new SignJWT({ sub: 'spiffe://example.org/ns/a/sa/b', aud: ORDERS, exp: NOW_S + 60 })
          .setProtectedHeader({ alg: 'HS256', kid: 'svid-1' })
          .sign(new Uint8Array(32)),
    ],
  ])('%s → %s', async (_n, code, make) => {
    expect((await deniedWith(bearer(await make()))).code).toBe(code);
  });
});
