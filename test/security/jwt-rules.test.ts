/**
 * The JwtVerifier's decision rules, each from both sides and at its edge: the clock-skew window around exp, nbf
 * and iat (fresh and from the cache), the algorithm allow-list, which header a token may come in, the groups
 * claims, JWT-SVID trust domains, and claims Envoy's jwt_authn already verified. Keys and tokens are made here with
 * jose; the issuer's keys are a real JWKS file (FileJwks) and the JWT-SVID keys a real trust-bundle set. Frozen
 * clock: NOW (every `now` below is explicit).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSPKI, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSpiffeBundle } from '../../src/identity/bundle.js';
import { type JwtResult, JwtVerifier } from '../../src/identity/jwt.js';
import type { JwtOptions } from '../../src/identity/options.js';
import { TrustBundleSet } from '../../src/identity/trust-bundles.js';
import { IdentityError, isPromise } from '../../src/identity/types.js';
import { FileJwks } from '../../src/sources/jwks.js';
import { BASE_TIME, createTokenIssuer, spiffeBundle, type TokenIssuer } from '../support/pki.js';

const NOW = BASE_TIME;
const NOW_S = NOW / 1000;
const IDP = 'https://idp.example.com';
const ROLES_IDP = 'https://roles.example.com';
const LEEWAY = 30;
const SVID_LEEWAY = 10;
const ORDERS = 'spiffe://example.org/ns/shop/sa/orders';
const CART = 'spiffe://example.org/ns/shop/sa/cart';

let dir: string;
let idp: TokenIssuer;
let rolesIdp: TokenIssuer;
let svidSigner: TokenIssuer;
let otherDomainSigner: TokenIssuer;

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

const config = (over: Partial<JwtOptions> = {}): JwtOptions => ({
  issuers: [
    {
      issuer: IDP,
      audiences: ['orders'],
      algorithms: ['ES256'],
      leewaySeconds: LEEWAY,
      fromHeaders: [{ name: 'Authorization', prefix: 'Bearer ' }],
      groupsClaims: ['groups'],
    },
    {
      issuer: ROLES_IDP,
      audiences: ['orders'],
      algorithms: ['ES256'],
      leewaySeconds: 0,
      fromHeaders: [{ name: 'x-roles-token', prefix: '' }],
      groupsClaims: ['roles'],
    },
  ],
  jwtSvid: {
    audiences: [ORDERS],
    fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }],
    leewaySeconds: SVID_LEEWAY,
  },
  envoyJwtAuthn: { enabled: true, namespace: 'jwt_authn' },
  ...over,
});

async function jwksFile(name: string, issuer: TokenIssuer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(issuer.jwks));
  return path;
}

async function bundles(): Promise<TrustBundleSet> {
  const set = new TrustBundleSet();
  set.set(
    parseSpiffeBundle('example.org', await spiffeBundle([], [{ kid: 'svid-1', publicKey: svidSigner.keys.publicKey }])),
  );
  // other.org has a key under the SAME kid: a token naming example.org must never be checked with it, nor the reverse.
  set.set(
    parseSpiffeBundle(
      'other.org',
      await spiffeBundle([], [{ kid: 'svid-1', publicKey: otherDomainSigner.keys.publicKey }]),
    ),
  );
  return set;
}

async function make(over: Partial<JwtOptions> = {}, files?: Map<string, string>): Promise<JwtVerifier> {
  const paths =
    files ??
    new Map([
      [IDP, await jwksFile('idp.json', idp)],
      [ROLES_IDP, await jwksFile('roles.json', rolesIdp)],
    ]);
  return JwtVerifier.create(config(over), {
    openJwks: (issuer) => FileJwks.open(paths.get(issuer)!, { watch: false }),
    bundles: await bundles(),
  });
}

/** The verdict, or the refusal's IdentityError (sync throw or rejection). */
async function run(v: JwtVerifier, headers: Record<string, string>, now = NOW, md: Record<string, unknown> = {}) {
  try {
    return await v.verify(headers, md, now);
  } catch (err) {
    if (err instanceof IdentityError) return err;
    throw err;
  }
}

async function refused(v: JwtVerifier, headers: Record<string, string>, now = NOW): Promise<IdentityError> {
  const out = await run(v, headers, now);
  if (!(out instanceof IdentityError)) throw new Error(`expected a refusal, got ${JSON.stringify(out)}`);
  return out;
}

async function accepted(v: JwtVerifier, headers: Record<string, string>, now = NOW): Promise<JwtResult> {
  const out = await run(v, headers, now);
  if (out instanceof IdentityError) throw new Error(`expected acceptance, got ${out.code}: ${out.safeMessage}`);
  return out;
}

/** True when the verdict is not answered synchronously, i.e. not from the cache (its outcome is awaited elsewhere). */
function notCached(v: JwtVerifier, headers: Record<string, string>, now: number): boolean {
  try {
    const out = v.verify(headers, {}, now);
    if (!isPromise(out)) return false;
    out.catch(() => {});
    return true;
  } catch {
    return false;
  }
}

/** A verdict answered synchronously, i.e. from the cache. */
function cached(v: JwtVerifier, headers: Record<string, string>, now: number): JwtResult {
  const out = v.verify(headers, {}, now);
  if (isPromise(out)) throw new Error('expected a cached (synchronous) verdict');
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jwt-rules-'));
  idp = await createTokenIssuer(IDP, { kid: 'idp-1' });
  rolesIdp = await createTokenIssuer(ROLES_IDP, { kid: 'roles-1' });
  svidSigner = await createTokenIssuer('unused', { kid: 'svid-1' });
  otherDomainSigner = await createTokenIssuer('unused', { kid: 'svid-1' });
});

describe('exp: refused from exp + leeway on, fresh and cached', () => {
  it('accepted one second before exp + leeway, refused at it (a fresh token)', async () => {
    const v = await make();
    const t = await idp.sign({ sub: 'alice', aud: 'orders' }, { ttlSeconds: 10 });
    const edge = (NOW_S + 10 + LEEWAY) * 1000;
    expect((await accepted(v, bearer(t), edge - 1000)).user?.subject).toBe('alice');
    const v2 = await make();
    expect((await refused(v2, bearer(t), edge)).code).toBe('jwt_expired');
  });

  it('a cached verdict holds until one second before exp + leeway, and is not served at it', async () => {
    const v = await make();
    const t = await idp.sign({ sub: 'alice', aud: 'orders' }, { ttlSeconds: 10 });
    const edge = (NOW_S + 10 + LEEWAY) * 1000;
    await accepted(v, bearer(t), NOW);
    expect(cached(v, bearer(t), edge - 1).user?.subject).toBe('alice');
    expect(notCached(v, bearer(t), edge)).toBe(true);
    expect((await refused(v, bearer(t), edge)).code).toBe('jwt_expired');
  });

  it('the user identity expires at exp (not exp + leeway) and carries a fingerprint, never the token', async () => {
    const v = await make();
    const t = await idp.sign({ sub: 'alice', aud: 'orders' }, { ttlSeconds: 10 });
    const user = (await accepted(v, bearer(t))).user!;
    expect(user.expiresAt).toBe((NOW_S + 10) * 1000);
    expect(user.credentialId).toBe(`jwt:${createHash('sha256').update(t).digest('base64url')}`);
  });
});

describe('nbf: accepted from nbf - leeway on, fresh and cached', () => {
  it('refused one second before nbf - leeway, accepted at it', async () => {
    const t = await idp.sign({ sub: 'alice', aud: 'orders', nbf: NOW_S + 100 });
    const edge = (NOW_S + 100 - LEEWAY) * 1000;
    expect((await refused(await make(), bearer(t), edge - 1000)).code).toBe('jwt_not_yet_valid');
    expect((await accepted(await make(), bearer(t), edge)).user?.subject).toBe('alice');
  });

  it('a cached verdict is served from nbf - leeway on, never before it', async () => {
    const v = await make();
    const t = await idp.sign({ sub: 'alice', aud: 'orders', nbf: NOW_S + 100 });
    const edge = (NOW_S + 100 - LEEWAY) * 1000;
    await accepted(v, bearer(t), edge + 5000);
    expect(cached(v, bearer(t), edge).user?.subject).toBe('alice');
    expect(notCached(v, bearer(t), edge - 1000)).toBe(true);
    expect((await refused(v, bearer(t), edge - 1000)).code).toBe('jwt_not_yet_valid');
  });

  it('without nbf a cached verdict has no lower bound', async () => {
    const v = await make();
    const t = await idp.sign({ sub: 'alice', aud: 'orders' });
    await accepted(v, bearer(t), NOW);
    expect(cached(v, bearer(t), NOW - 10_000).user?.subject).toBe('alice');
  });
});

describe('iat: a token issued more than the leeway in the future is refused', () => {
  it('iat = now + leeway is accepted, one second more is refused', async () => {
    const ok = await idp.sign({ sub: 'alice', aud: 'orders', iat: NOW_S + LEEWAY });
    expect((await accepted(await make(), bearer(ok))).user?.subject).toBe('alice');
    const bad = await idp.sign({ sub: 'alice', aud: 'orders', iat: NOW_S + LEEWAY + 1 });
    const err = await refused(await make(), bearer(bad));
    expect(err.code).toBe('jwt_not_yet_valid');
    expect(err.safeMessage).toBe('the token was issued in the future (iat)');
  });

  it('the iat check uses the request time, not the wall clock', async () => {
    const t = await idp.sign({ sub: 'alice', aud: 'orders', iat: NOW_S + 500 }, { now: NOW + 500_000 });
    expect((await refused(await make(), bearer(t), NOW)).code).toBe('jwt_not_yet_valid');
    expect((await accepted(await make(), bearer(t), NOW + 500_000)).user?.subject).toBe('alice');
  });
});

describe('algorithms come from the issuer config, never from the token', () => {
  it.each([
    ['alg: none', 'none'],
    ['HS256 with the public key as secret', 'HS256'],
    ['no alg at all', undefined],
  ])('%s is refused before any key is looked at', async (_n, alg) => {
    const body = Buffer.from(JSON.stringify({ iss: IDP, sub: 'mallory', aud: 'orders', exp: NOW_S + 60 })).toString(
      'base64url',
    );
    let token: string;
    if (alg === 'HS256') {
      const secret = new TextEncoder().encode(await exportSPKI(idp.keys.publicKey));
      token = await new SignJWT({ iss: IDP, sub: 'mallory', aud: 'orders', exp: NOW_S + 60 })
        .setProtectedHeader({ alg: 'HS256', kid: 'idp-1' })
        .sign(secret);
    } else {
      const head = Buffer.from(JSON.stringify(alg === undefined ? { kid: 'idp-1' } : { alg, kid: 'idp-1' })).toString(
        'base64url',
      );
      token = `${head}.${body}.`;
    }
    const err = await refused(await make(), bearer(token));
    expect(err.code).toBe('jwt_alg_not_allowed');
    // The exact reason comes from the pre-check, before jose: jose's own refusal reads differently.
    expect(err.safeMessage).toBe('the token algorithm is not allowed for this issuer');
  });

  it('the allowed algorithm with the issuer key is accepted (the other side)', async () => {
    expect((await accepted(await make(), bearer(await idp.sign({ sub: 'alice', aud: 'orders' })))).user?.issuer).toBe(
      IDP,
    );
  });
});

describe('a token is accepted only in the headers its issuer reads', () => {
  it('issuer A in its own header is accepted, in issuer B header refused', async () => {
    const v = await make();
    const t = await idp.sign({ sub: 'alice', aud: 'orders' });
    expect((await accepted(v, bearer(t))).user?.subject).toBe('alice');
    const err = await refused(v, { 'x-roles-token': t });
    expect(err.code).toBe('jwt_issuer');
    expect(err.safeMessage).toBe('tokens of this issuer are not accepted in the x-roles-token header');
  });

  it('a verdict cached for one header is not served to the same token in another header', async () => {
    const v = await make();
    const t = await rolesIdp.sign({ sub: 'bob', aud: 'orders' });
    expect((await accepted(v, { 'x-roles-token': t })).user?.subject).toBe('bob');
    expect(cached(v, { 'x-roles-token': t }, NOW).user?.subject).toBe('bob');
    expect((await refused(v, bearer(t))).code).toBe('jwt_issuer');
  });

  it('header names in the config match case-insensitively (Envoy lowercases header names)', async () => {
    const v = await make();
    const t = await idp.sign({ sub: 'alice', aud: 'orders' });
    expect((await accepted(v, { authorization: `bearer ${t}` })).user?.subject).toBe('alice');
  });

  it('a configured issuer is refused from a token that names no configured issuer and has no SPIFFE sub', async () => {
    const evil = await createTokenIssuer('https://evil.example.com', { kid: 'idp-1' });
    const err = await refused(await make(), bearer(await evil.sign({ sub: 'alice', aud: 'orders' })));
    expect(err.code).toBe('jwt_issuer');
    expect(err.safeMessage).toBe('the token issuer is not configured');
  });

  it('a malformed token is refused as such, not treated as absent', async () => {
    const err = await refused(await make(), bearer('a.b.c'));
    expect(err.code).toBe('jwt_malformed');
    expect(err.safeMessage).toBe('the token is not a well-formed JWT');
  });

  it('no token and no Envoy claims: no user, no peer', async () => {
    expect(await accepted(await make(), {})).toEqual({ user: null, svidPeer: null });
  });

  it('with no issuer and no JWT-SVID configured, a bearer token is not read at all', async () => {
    const v = await make({ issuers: [], jwtSvid: undefined });
    expect(await accepted(v, bearer('a.b.c'))).toEqual({ user: null, svidPeer: null });
  });

  it('the same issuer configured twice is a start-up error', async () => {
    const one = config().issuers[0]!;
    await expect(make({ issuers: [one, one] })).rejects.toThrow(`issuer ${IDP} is configured twice`);
  });
});

describe('an issuer with several headers', () => {
  it('reads its tokens from any of them', async () => {
    const [a, b] = config().issuers;
    const v = await make({
      issuers: [
        {
          ...a!,
          fromHeaders: [
            { name: 'Authorization', prefix: 'Bearer ' },
            { name: 'X-Idp-Token', prefix: '' },
          ],
        },
        b!,
      ],
    });
    const t = await idp.sign({ sub: 'alice', aud: 'orders' });
    expect((await accepted(v, { 'x-idp-token': t })).user?.subject).toBe('alice');
  });
});

describe('key-source errors are reported, named after the issuer', () => {
  it('an error the JWKS source reports reaches onError with the issuer', async () => {
    const seen: string[] = [];
    const path = await jwksFile('reported.json', idp);
    await JwtVerifier.create(config({ issuers: [config().issuers[0]!] }), {
      openJwks: async (_issuer, onError) => {
        onError(new Error('fetch failed'));
        return FileJwks.open(path, { watch: false });
      },
      bundles: new TrustBundleSet(),
      onError: (err, where) => seen.push(`${where}: ${err.message}`),
    });
    expect(seen).toEqual([`jwks of ${IDP}: fetch failed`]);
  });

  it('without an onError option an error is dropped, not thrown', async () => {
    const path = await jwksFile('unreported.json', idp);
    const v = await JwtVerifier.create(config({ issuers: [config().issuers[0]!] }), {
      openJwks: async (_issuer, onError) => {
        onError(new Error('fetch failed'));
        return FileJwks.open(path, { watch: false });
      },
      bundles: new TrustBundleSet(),
    });
    expect(v).toBeInstanceOf(JwtVerifier);
  });
});

describe('claims as policies see them', () => {
  it('with groupsClaims [roles], claims.groups is the roles, never the token own groups claim', async () => {
    const v = await make();
    const t = await rolesIdp.sign({ sub: 'bob', aud: 'orders', groups: ['admins'], roles: ['dev'] });
    const user = (await accepted(v, { 'x-roles-token': t })).user!;
    expect(user.groups).toEqual(['dev']);
    expect(user.claims.groups).toEqual(['dev']);
    expect(Object.isFrozen(user.claims)).toBe(true);
  });

  it('with the default groupsClaims, claims are the token claims as signed', async () => {
    const t = await idp.sign({ sub: 'alice', aud: 'orders', groups: ['admins'], roles: ['dev'] });
    const user = (await accepted(await make(), bearer(t))).user!;
    expect(user.groups).toEqual(['admins']);
    expect(user.claims).toMatchObject({ groups: ['admins'], roles: ['dev'], sub: 'alice' });
    expect(Object.isFrozen(user.claims)).toBe(true);
    // As signed means as signed: a one-string groups claim stays a string, and no groups claim is not invented.
    const one = (await accepted(await make(), bearer(await idp.sign({ sub: 'a', aud: 'orders', groups: 'ops' }))))
      .user!;
    expect(one.claims.groups).toBe('ops');
    expect(one.groups).toEqual(['ops']);
    const none = (await accepted(await make(), bearer(await idp.sign({ sub: 'a', aud: 'orders' })))).user!;
    expect('groups' in none.claims).toBe(false);
  });

  it('audiences keep only strings; azp only when it is a string', async () => {
    const v = await make();
    const a = await idp.sign({ sub: 'alice', aud: ['orders', 7, 'billing'], azp: 'web' });
    expect((await accepted(v, bearer(a))).user).toMatchObject({ audiences: ['orders', 'billing'], presenter: 'web' });
    const b = await idp.sign({ sub: 'alice', aud: 'orders', azp: 42 });
    expect((await accepted(v, bearer(b))).user).toMatchObject({ audiences: ['orders'], presenter: null });
  });
});

describe('JWT-SVIDs', () => {
  const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}, signer = svidSigner) =>
    signer.sign({ iss: undefined, ...claims }, { header: { kid: 'svid-1', ...header } });

  it('a valid JWT-SVID names the workload, with its expiry and a fingerprint', async () => {
    const t = await sign({ sub: CART, aud: ORDERS }, { typ: 'JOSE' });
    const out = await accepted(await make(), bearer(t));
    expect(out.user).toBeNull();
    expect(out.svidPeer).toEqual({
      spiffeId: CART,
      trustDomain: 'example.org',
      namespace: 'shop',
      serviceAccount: 'cart',
      expiresAt: (NOW_S + 3600) * 1000,
      credentialId: `jwt-svid:${createHash('sha256').update(t).digest('base64url')}`,
    });
    expect(
      (await accepted(await make(), bearer(await sign({ sub: CART, aud: ORDERS }, { typ: undefined })))).svidPeer,
    ).not.toBeNull();
  });

  it('a token signed with trust domain A key but naming trust domain B (same kid) is refused', async () => {
    const err = await refused(await make(), bearer(await sign({ sub: 'spiffe://other.org/ns/a/sa/b', aud: ORDERS })));
    expect(err.code).toBe('jwt_bad_signature');
    const ok = await sign({ sub: 'spiffe://other.org/ns/a/sa/b', aud: ORDERS }, {}, otherDomainSigner);
    expect((await accepted(await make(), bearer(ok))).svidPeer?.trustDomain).toBe('other.org');
  });

  it.each<[string, string, string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'a sub that is not a SPIFFE ID at all (the issuer is then unknown)',
      'jwt_issuer',
      'the token issuer is not configured',
      { sub: 'cart', aud: ORDERS },
      {},
    ],
    [
      'no sub and no known issuer',
      'jwt_issuer',
      'the token issuer is not configured',
      { sub: undefined, aud: ORDERS },
      {},
    ],
    [
      'a SPIFFE sub without a path',
      'jwt_claims',
      'the JWT-SVID sub is not a workload SPIFFE ID',
      { sub: 'spiffe://example.org', aud: ORDERS },
      {},
    ],
    [
      'an invalid SPIFFE sub',
      'jwt_claims',
      'the JWT-SVID sub is not a workload SPIFFE ID',
      { sub: 'spiffe://Example.org/x', aud: ORDERS },
      {},
    ],
    [
      'a trust domain without a bundle',
      'svid_untrusted_domain',
      'trust domain evil.org has no trust bundle',
      { sub: 'spiffe://evil.org/ns/a/sa/b', aud: ORDERS },
      {},
    ],
    ['no kid', 'jwt_unknown_kid', 'the JWT-SVID has no kid', { sub: CART, aud: ORDERS }, { kid: undefined }],
    [
      'an unknown kid',
      'jwt_unknown_kid',
      'no jwt-svid key of the trust domain matches the kid',
      { sub: CART, aud: ORDERS },
      { kid: 'nope' },
    ],
    [
      'typ at+jwt',
      'jwt_malformed',
      'a JWT-SVID typ header must be JWT or JOSE',
      { sub: CART, aud: ORDERS },
      { typ: 'at+jwt' },
    ],
    ['no aud', 'jwt_audience', 'the token audience is not accepted here', { sub: CART }, {}],
    [
      'another audience',
      'jwt_audience',
      'the token audience is not accepted here',
      { sub: CART, aud: 'spiffe://example.org/ns/shop/sa/billing' },
      {},
    ],
  ])('%s → %s', async (_n, code, message, claims, header) => {
    const err = await refused(await make(), bearer(await sign(claims, header)));
    expect(err.code).toBe(code);
    expect(err.safeMessage).toBe(message);
  });

  it('a JWT-SVID header list is matched as a whole: the second configured header also reads JWT-SVIDs', async () => {
    const v = await make({
      jwtSvid: {
        audiences: [ORDERS],
        fromHeaders: [
          { name: 'authorization', prefix: 'Bearer ' },
          { name: 'X-Svid', prefix: '' },
        ],
        leewaySeconds: 0,
      },
    });
    expect((await accepted(v, { 'x-svid': await sign({ sub: CART, aud: ORDERS }) })).svidPeer?.spiffeId).toBe(CART);
  });

  it('a JWT-SVID without exp is refused: it could never expire', async () => {
    const t = await new SignJWT({ sub: CART, aud: ORDERS })
      .setProtectedHeader({ alg: 'ES256', kid: 'svid-1' })
      .sign(svidSigner.keys.privateKey);
    const err = await refused(await make(), bearer(t));
    expect(err.code).toBe('jwt_claims');
    expect(err.safeMessage).toBe('the token has no valid exp claim');
  });

  it.each([['none'], ['HS256']])('alg %s is refused: a JWT-SVID must be asymmetric', async (alg) => {
    const head = Buffer.from(JSON.stringify({ alg, kid: 'svid-1' })).toString('base64url');
    const body = Buffer.from(JSON.stringify({ sub: CART, aud: ORDERS, exp: NOW_S + 60 })).toString('base64url');
    const err = await refused(await make(), bearer(`${head}.${body}.c2ln`));
    expect(err.code).toBe('jwt_alg_not_allowed');
    expect(err.safeMessage).toBe('a JWT-SVID must use an asymmetric algorithm');
  });

  it('a JWT-SVID is refused when JWT-SVIDs are not configured', async () => {
    const t = await sign({ sub: CART, aud: ORDERS });
    expect((await refused(await make({ jwtSvid: undefined }), bearer(t))).code).toBe('jwt_issuer');
  });

  it('a JWT-SVID is refused in a header configured for an issuer only', async () => {
    const err = await refused(await make(), { 'x-roles-token': await sign({ sub: CART, aud: ORDERS }) });
    expect(err.code).toBe('jwt_issuer');
    expect(err.safeMessage).toBe('JWT-SVIDs are not accepted in the x-roles-token header');
  });

  it('exp + leeway: accepted one second before, refused at it; cached the same way', async () => {
    const t = await sign({ sub: CART, aud: ORDERS }, {});
    const edge = (NOW_S + 3600 + SVID_LEEWAY) * 1000;
    const v = await make();
    expect((await accepted(v, bearer(t), edge - 1000)).svidPeer?.spiffeId).toBe(CART);
    expect(cached(v, bearer(t), edge - 1).svidPeer?.spiffeId).toBe(CART);
    expect(notCached(v, bearer(t), edge)).toBe(true);
    expect((await refused(await make(), bearer(t), edge)).code).toBe('jwt_expired');
  });

  it('the key imported for one algorithm is not reused for another', async () => {
    const v = await make();
    expect((await accepted(v, bearer(await sign({ sub: CART, aud: ORDERS })))).svidPeer).not.toBeNull();
    // Same kid, key and signature, but the header claims ES384: the P-256 key cannot be used for it, whatever was
    // imported for ES256 before.
    const [, body, sig] = (await sign({ sub: CART, aud: ORDERS, n: 1 })).split('.');
    const head = Buffer.from(JSON.stringify({ alg: 'ES384', kid: 'svid-1', typ: 'JWT' })).toString('base64url');
    const err = await refused(v, bearer(`${head}.${body}.${sig}`));
    expect(['jwt_alg_not_allowed', 'jwt_malformed', 'jwt_bad_signature']).toContain(err.code);
    expect((await accepted(v, bearer(await sign({ sub: CART, aud: ORDERS, n: 2 })))).svidPeer).not.toBeNull();
  });
});

describe('claims Envoy jwt_authn verified (metadata), only when enabled', () => {
  const md = (...payloads: unknown[]) => ({ jwt_authn: Object.fromEntries(payloads.map((p, i) => [`p${i}`, p])) });

  it('a verified payload becomes the user; groups read with the issuer config', async () => {
    const v = await make();
    const payload = {
      iss: ROLES_IDP,
      sub: 'bob',
      aud: ['orders'],
      roles: 'dev',
      groups: ['admins'],
      exp: NOW_S + 9,
      azp: 'x',
    };
    const out = (await run(v, {}, NOW, md(payload))) as JwtResult;
    expect(out.user).toMatchObject({
      issuer: ROLES_IDP,
      subject: 'bob',
      audiences: ['orders'],
      presenter: 'x',
      groups: ['dev'],
      expiresAt: (NOW_S + 9) * 1000,
    });
    expect(out.user?.claims.groups).toEqual(['dev']);
    const id = createHash('sha256').update(JSON.stringify(payload)).digest('base64url');
    expect(out.user?.credentialId).toBe(`jwt_authn:${id}`);
  });

  it('an unconfigured issuer reads groups from `groups`; without exp the identity lasts a minute', async () => {
    const out = (await run(
      await make(),
      {},
      NOW,
      md({ iss: 'https://x', sub: 'c', groups: ['g'], roles: ['r'] }),
    )) as JwtResult;
    expect(out.user).toMatchObject({ groups: ['g'], expiresAt: NOW + 60_000, presenter: null, audiences: [] });
  });

  it('entries without a string iss and sub are ignored; none left is anonymous', async () => {
    const v = await make();
    expect(await run(v, {}, NOW, md({ iss: IDP }, { sub: 'x' }, null, 'str', { iss: 1, sub: 'x' }))).toEqual({
      user: null,
      svidPeer: null,
    });
    expect(await run(v, {}, NOW, { jwt_authn: 'not an object' })).toEqual({ user: null, svidPeer: null });
    expect(await run(v, {}, NOW, { jwt_authn: null })).toEqual({ user: null, svidPeer: null });
  });

  it('two verified tokens are refused: which one counts would be ambiguous', async () => {
    const out = await run(await make(), {}, NOW, md({ iss: IDP, sub: 'a' }, { iss: IDP, sub: 'b' }));
    expect(out).toBeInstanceOf(IdentityError);
    expect((out as IdentityError).code).toBe('jwt_claims');
    expect((out as IdentityError).safeMessage).toBe('Envoy verified more than one token for this request');
  });

  it('disabled: the same metadata is ignored', async () => {
    const v = await make({ envoyJwtAuthn: { enabled: false, namespace: 'jwt_authn' } });
    expect(await run(v, {}, NOW, md({ iss: IDP, sub: 'a' }))).toEqual({ user: null, svidPeer: null });
  });

  it('a bearer token, when present, is verified instead of the metadata', async () => {
    const t = await idp.sign({ sub: 'alice', aud: 'orders' });
    const out = (await run(await make(), bearer(t), NOW, md({ iss: IDP, sub: 'mallory' }))) as JwtResult;
    expect(out.user?.subject).toBe('alice');
  });
});

describe('cached verdicts end when the keys change', () => {
  async function withFiles() {
    const paths = new Map([
      [IDP, await jwksFile('rotating.json', idp)],
      [ROLES_IDP, await jwksFile('roles2.json', rolesIdp)],
    ]);
    const opened = new Map<string, FileJwks>();
    const v = await JwtVerifier.create(config(), {
      openJwks: async (issuer) => {
        const f = await FileJwks.open(paths.get(issuer)!, { watch: false });
        opened.set(issuer, f);
        return f;
      },
      bundles: await bundles(),
    });
    return { v, paths, opened };
  }

  it('a rotated-out issuer key stops validating a token that was cached', async () => {
    const { v, paths, opened } = await withFiles();
    const t = await idp.sign({ sub: 'alice', aud: 'orders' });
    await accepted(v, bearer(t));
    expect(cached(v, bearer(t), NOW).user?.subject).toBe('alice');
    const next = await createTokenIssuer(IDP, { kid: 'idp-2' });
    await writeFile(paths.get(IDP)!, JSON.stringify(next.jwks));
    await opened.get(IDP)!.reload();
    expect(notCached(v, bearer(t), NOW)).toBe(true);
    expect((await refused(v, bearer(t))).code).toBe('jwt_unknown_kid');
    expect((await accepted(v, bearer(await next.sign({ sub: 'alice', aud: 'orders' })))).user?.subject).toBe('alice');
  });

  it('close() drops cached verdicts', async () => {
    const { v } = await withFiles();
    const t = await idp.sign({ sub: 'alice', aud: 'orders' });
    await accepted(v, bearer(t));
    v.close();
    expect(notCached(v, bearer(t), NOW)).toBe(true);
  });
});
