import { beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_TIME,
  createCa,
  createSvid,
  createTokenIssuer,
  envoyEncode,
  type Issued,
  spiffeBundle,
  type TokenIssuer,
} from '../../test/support/pki.js';
import { parseSpiffeBundle } from './bundle.js';
import { JwtVerifier } from './jwt.js';
import type { IdentityOptions, PeerSource } from './options.js';
import { TrustBundleSet } from './trust-bundles.js';
import { type IdentityInput, type IdentityOutcome, isPromise } from './types.js';
import { DefaultIdentityVerifier, IdentityConfigError, validateIdentityOptions } from './verifier.js';
import { XfccError } from './xfcc.js';

const NOW = BASE_TIME;
const HOUR = 3_600_000;
const WEB = 'spiffe://example.org/ns/shop/sa/web';
const CART = 'spiffe://example.org/ns/shop/sa/cart';
const ORDERS = 'spiffe://example.org/ns/shop/sa/orders';

let root: Issued;
let rotated: Issued;
let leaf: Issued;
let svidSigner: TokenIssuer;

beforeAll(async () => {
  root = await createCa({ trustDomain: 'example.org' });
  rotated = await createCa({ trustDomain: 'example.org', subject: 'CN=rotated' });
  leaf = await createSvid(root, WEB, { notBefore: new Date(NOW - HOUR), notAfter: new Date(NOW + HOUR) });
  svidSigner = await createTokenIssuer('unused', { kid: 'svid-1' });
});

function options(sources: PeerSource[], trust: 'last' | 'only' = 'last'): IdentityOptions {
  return {
    peer: { sources, trustEnvoyPrincipal: sources.includes('principal'), xfcc: { trust } },
    jwt: {
      issuers: [],
      jwtSvid: { audiences: [ORDERS], fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }], leewaySeconds: 0 },
      envoyJwtAuthn: { enabled: false, namespace: 'envoy.filters.http.jwt_authn' },
    },
  };
}

async function bundleOf(ca: Issued) {
  return parseSpiffeBundle(
    'example.org',
    await spiffeBundle([ca], [{ kid: 'svid-1', publicKey: svidSigner.keys.publicKey }]),
  );
}

async function make(sources: PeerSource[], trust: 'last' | 'only' = 'last') {
  const bundles = new TrustBundleSet();
  bundles.set(await bundleOf(root));
  const config = options(sources, trust);
  const jwt = await JwtVerifier.create(config.jwt, {
    openJwks: () => Promise.reject(new Error('no issuers')),
    bundles,
  });
  return { v: new DefaultIdentityVerifier(config, bundles, jwt, 100), bundles };
}

const input = (p: Partial<IdentityInput>): IdentityInput => ({
  certificate: '',
  principal: '',
  headers: {},
  filterMetadata: {},
  now: NOW,
  ...p,
});

function sync(o: IdentityOutcome | Promise<IdentityOutcome>): IdentityOutcome {
  if (isPromise(o)) throw new Error('expected a synchronous outcome');
  return o;
}

function code(o: IdentityOutcome): string {
  if (o.ok) throw new Error(`expected a refusal, got ${JSON.stringify(o)}`);
  return o.error.code;
}

const svidToken = (sub = CART) => svidSigner.sign({ iss: undefined, sub, aud: ORDERS }, { header: { kid: 'svid-1' } });

describe('validateIdentityOptions: contradictions stop start-up', () => {
  it('a source listed twice is refused; each once is fine', () => {
    const twice = options(['certificate', 'xfcc', 'certificate']);
    expect(() => validateIdentityOptions(twice)).toThrow(IdentityConfigError);
    expect(() => validateIdentityOptions(twice)).toThrow(expect.objectContaining({ name: 'IdentityConfigError' }));
    expect(() => validateIdentityOptions(twice)).toThrow('identity.peer.sources lists a source twice');
    expect(() => validateIdentityOptions(options(['certificate', 'xfcc', 'principal']))).not.toThrow();
  });

  it('principal without trustEnvoyPrincipal is refused; with it, accepted', () => {
    const o = options(['principal']);
    expect(() => validateIdentityOptions({ ...o, peer: { ...o.peer, trustEnvoyPrincipal: false } })).toThrow(
      expect.objectContaining({
        code: 'identity_config',
        message: expect.stringMatching(/trustEnvoyPrincipal is false/),
      }),
    );
    expect(() => validateIdentityOptions(o)).not.toThrow();
  });
});

describe('peer sources: the first that presents a credential decides', () => {
  it('principal first: an Envoy principal names the peer for one minute, keyed by its ID', async () => {
    const { v } = await make(['principal', 'certificate']);
    const out = sync(v.verify(input({ principal: WEB, certificate: envoyEncode(leaf.pem) })));
    expect(out).toEqual({
      ok: true,
      user: null,
      peer: {
        spiffeId: WEB,
        trustDomain: 'example.org',
        namespace: 'shop',
        serviceAccount: 'web',
        expiresAt: NOW + 60_000,
        credentialId: `principal:${WEB}`,
      },
    });
  });

  it('an empty principal passes to the next source; an invalid one is refused, not skipped', async () => {
    const { v } = await make(['principal', 'certificate']);
    const out = sync(v.verify(input({ certificate: envoyEncode(leaf.pem) })));
    expect(out.ok && out.peer?.credentialId).toBe(leaf.fingerprint);
    expect(code(sync(v.verify(input({ principal: 'spiffe://example.org' }))))).toBe('principal_invalid');
    const bad = sync(v.verify(input({ principal: 'web', certificate: envoyEncode(leaf.pem) })));
    expect(!bad.ok && bad.error.safeMessage).toBe('the Envoy source principal is not a workload SPIFFE ID');
  });

  it('xfcc: the trusted element URI names the peer for one minute; XFCC errors keep their code', async () => {
    const { v } = await make(['xfcc'], 'only');
    const xfcc = (h: string) => input({ headers: { 'x-forwarded-client-cert': h } });
    const out = sync(v.verify(xfcc(`By=spiffe://example.org/ns/gw/sa/gw;URI=${WEB}`)));
    expect(out.ok && out.peer).toMatchObject({ spiffeId: WEB, expiresAt: NOW + 60_000, credentialId: `xfcc:${WEB}` });
    const two = sync(v.verify(xfcc(`URI=${CART},URI=${WEB}`)));
    expect(!two.ok && two.error).toMatchObject({ code: 'xfcc_untrusted', name: 'IdentityError' });
    expect(code(sync(v.verify(xfcc('URI'))))).toBe('xfcc_malformed');
    // By is the proxy, never the peer: an element naming only a By has no peer.
    expect(sync(v.verify(xfcc('By=spiffe://example.org/ns/admin/sa/root')))).toEqual({
      ok: true,
      peer: null,
      user: null,
    });
    expect(code(sync(v.verify(xfcc('URI=spiffe://example.org'))))).toBe('svid_invalid_spiffe_id');
    expect(sync(v.verify(xfcc('')))).toEqual({ ok: true, peer: null, user: null });
    expect(sync(v.verify(input({})))).toEqual({ ok: true, peer: null, user: null });
    const several = sync(v.verify(xfcc(`URI=${WEB};URI=${CART}`)));
    expect(!several.ok && several.error).toMatchObject({
      code: 'svid_multiple_uri_sans',
      safeMessage: 'the trusted XFCC element has several URIs',
    });
    const notSpiffe = sync(v.verify(xfcc('URI=https://example.org/web')));
    expect(!notSpiffe.ok && notSpiffe.error.safeMessage).toBe(
      'the trusted XFCC element URI is not a workload SPIFFE ID',
    );
    const bad = sync(v.verify(xfcc('URI')));
    expect(!bad.ok && bad.error.cause).toBeInstanceOf(XfccError);
  });

  it('without xfcc in the sources, the header is not read', async () => {
    const { v } = await make(['certificate']);
    expect(sync(v.verify(input({ headers: { 'x-forwarded-client-cert': `URI=${WEB}` } })))).toEqual({
      ok: true,
      peer: null,
      user: null,
    });
  });

  it('a certificate that is not URL-encoding is malformed', async () => {
    const { v } = await make(['certificate']);
    const out = sync(v.verify(input({ certificate: '%E0%A4%A' })));
    expect(!out.ok && out.error).toMatchObject({
      code: 'svid_malformed',
      safeMessage: 'the peer certificate is not valid URL-encoded PEM',
    });
    expect(!out.ok && out.error.cause).toBeInstanceOf(URIError);
  });
});

describe('the certificate cache holds a verdict exactly within the chain validity', () => {
  it('served (the same object) from notBefore to notAfter inclusive, re-verified and refused outside', async () => {
    const { v } = await make(['certificate']);
    const cert = envoyEncode(leaf.pem);
    const first = sync(v.verify(input({ certificate: cert })));
    if (!first.ok) throw new Error(first.error.code);
    const nb = leaf.cert.notBefore.getTime();
    const na = leaf.cert.notAfter.getTime();
    for (const now of [nb, na]) {
      const again = sync(v.verify(input({ certificate: cert, now })));
      expect(again.ok && again.peer).toBe(first.peer);
    }
    expect(code(sync(v.verify(input({ certificate: cert, now: na + 1 }))))).toBe('svid_expired');
    expect(code(sync(v.verify(input({ certificate: cert, now: nb - 1 }))))).toBe('svid_not_yet_valid');
  });

  it('a bundle change drops cached verdicts: a rotated-out root stops validating a cached certificate', async () => {
    const { v, bundles } = await make(['certificate']);
    const cert = envoyEncode(leaf.pem);
    expect(sync(v.verify(input({ certificate: cert }))).ok).toBe(true);
    bundles.set(await bundleOf(rotated));
    expect(code(sync(v.verify(input({ certificate: cert }))))).toBe('svid_bad_chain');
  });

  it('a bundle change drops cached JWT-SVID verdicts too', async () => {
    const { v, bundles } = await make(['certificate']);
    const headers = { authorization: `Bearer ${await svidToken()}` };
    expect((await v.verify(input({ headers }))).ok).toBe(true);
    expect(isPromise(v.verify(input({ headers })))).toBe(false);
    bundles.set(await bundleOf(root));
    const after = v.verify(input({ headers }));
    expect(isPromise(after)).toBe(true);
    expect((await after).ok).toBe(true);
  });

  it('close() drops the cache and stops listening to bundle changes', async () => {
    const { v, bundles } = await make(['certificate']);
    const cert = envoyEncode(leaf.pem);
    const first = sync(v.verify(input({ certificate: cert })));
    v.close();
    const again = sync(v.verify(input({ certificate: cert })));
    expect(again.ok && first.ok && again.peer).not.toBe(first.ok && first.peer);
    const third = sync(v.verify(input({ certificate: cert })));
    expect(third.ok && again.ok && third.peer).toBe(again.ok && again.peer);
    bundles.set(await bundleOf(root));
    const fourth = sync(v.verify(input({ certificate: cert })));
    // Unsubscribed: the change no longer reaches this (closed) verifier's cache.
    expect(fourth.ok && third.ok && fourth.peer).toBe(third.ok && third.peer);
  });
});

describe('a transport credential and a JWT-SVID together', () => {
  it('mTLS names the peer over a JWT-SVID; without it the JWT-SVID does', async () => {
    const { v } = await make(['certificate']);
    const headers = { authorization: `Bearer ${await svidToken()}` };
    const both = await v.verify(input({ certificate: envoyEncode(leaf.pem), headers }));
    expect(both.ok && both.peer?.spiffeId).toBe(WEB);
    const token = await v.verify(input({ headers }));
    expect(token.ok && token.peer?.spiffeId).toBe(CART);
    expect(token.ok && token.user).toBeNull();
  });

  it('a bad token is refused even when the peer is fine, synchronously or not', async () => {
    const { v } = await make(['certificate']);
    const cert = envoyEncode(leaf.pem);
    expect(code(sync(v.verify(input({ certificate: cert, headers: { authorization: 'Bearer x' } }))))).toBe(
      'jwt_malformed',
    );
    const other = await svidToken('spiffe://evil.org/ns/a/sa/b');
    const out = v.verify(input({ certificate: cert, headers: { authorization: `Bearer ${other}` } }));
    expect(isPromise(out)).toBe(true);
    expect(code(await out)).toBe('svid_untrusted_domain');
  });
});

describe('only identity refusals become a deny; a bug is not dressed up as one', () => {
  it('an unexpected error while verifying propagates instead of becoming an UNAUTHENTICATED outcome', async () => {
    class BrokenBundles extends TrustBundleSet {
      override x509Roots(): never {
        throw new RangeError('bug');
      }
    }
    const bundles = new BrokenBundles();
    bundles.set(await bundleOf(root));
    const config = options(['certificate']);
    const jwt = await JwtVerifier.create(config.jwt, { openJwks: () => Promise.reject(new Error('none')), bundles });
    const v = new DefaultIdentityVerifier(config, bundles, jwt, 10);
    expect(() => v.verify(input({ certificate: envoyEncode(leaf.pem) }))).toThrow(RangeError);
  });
});
