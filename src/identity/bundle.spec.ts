import { webcrypto } from 'node:crypto';
import { exportJWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, createCertificate, type Issued, spiffeBundle } from '../../test/support/pki.js';
import { BundleError, bundleFromPem, mergeBundles, parseSpiffeBundle, type TrustBundle } from './bundle.js';

const TD = 'example.org';

let root: Issued;
let second: Issued;
let jwtKey: webcrypto.CryptoKeyPair;

/** The error code and message a refused document gives. */
function refused(doc: unknown): { code: string; message: string } {
  try {
    parseSpiffeBundle(TD, doc);
  } catch (err) {
    expect(err).toBeInstanceOf(BundleError);
    const e = err as BundleError;
    return { code: e.code, message: e.message };
  }
  throw new Error('expected the bundle to be refused');
}

function x509Key(ca: Issued, extra: Record<string, unknown> = {}) {
  return { kty: 'EC', use: 'x509-svid', x5c: [Buffer.from(ca.der).toString('base64')], ...extra };
}

async function jwtJwk(kid: string, extra: Record<string, unknown> = {}) {
  return { ...(await exportJWK(jwtKey.publicKey)), use: 'jwt-svid', kid, ...extra };
}

beforeAll(async () => {
  root = await createCa({ trustDomain: TD });
  second = await createCa({ trustDomain: TD, subject: 'CN=second root' });
  jwtKey = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
});

describe('bundleFromPem', () => {
  it('holds every certificate of the PEM as an X.509 authority of that domain, and no JWT key', () => {
    const b = bundleFromPem(TD, root.pem + second.pem);
    expect(b.trustDomain).toBe(TD);
    expect(b.x509Authorities.map((c) => c.fingerprint)).toEqual([root.fingerprint, second.fingerprint]);
    expect(b.jwtAuthorities.size).toBe(0);
    expect([b.sequence, b.refreshHintSeconds]).toEqual([null, null]);
  });

  it('refuses a PEM with no certificate (a file caught mid-write is not "trust nobody") and a broken one', () => {
    expect(() => bundleFromPem(TD, '')).toThrow(/PEM bundle for example.org holds no certificate/);
    const broken = '-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n';
    expect(() => bundleFromPem(TD, broken)).toThrow(/PEM bundle for example.org is malformed/);
    expect(() => bundleFromPem(TD, broken)).toThrow(BundleError);
  });
});

describe('parseSpiffeBundle: which keys are authorities', () => {
  it('reads x509-svid keys as authorities and jwt-svid keys by kid, from an object or its JSON text', async () => {
    const doc = await spiffeBundle([root], [{ kid: 'k1', publicKey: jwtKey.publicKey }], {
      sequence: 7,
      refreshHint: 300,
    });
    for (const b of [parseSpiffeBundle(TD, doc), parseSpiffeBundle(TD, JSON.stringify(doc))]) {
      expect(b.trustDomain).toBe(TD);
      expect(b.x509Authorities.map((c) => c.fingerprint)).toEqual([root.fingerprint]);
      expect([...b.jwtAuthorities.keys()]).toEqual(['k1']);
      expect(b.jwtAuthorities.get('k1')).toMatchObject({ kty: 'EC', use: 'jwt-svid' });
      expect(b.sequence).toBe(7n);
      expect(b.refreshHintSeconds).toBe(300);
    }
  });

  it('skips keys with no use, an unknown use, or a jwt-svid key of an unknown kty; an x5c alone makes no authority', async () => {
    const b = parseSpiffeBundle(TD, {
      keys: [
        x509Key(root, { use: undefined }),
        x509Key(root, { use: 'sig' }),
        x509Key(root, { use: 'jwt-svid', kid: 'x', kty: 'oct' }),
        await jwtJwk('no-kty', { kty: 'oct' }),
        await jwtJwk('kty-not-a-string', { kty: 7 }),
      ],
    });
    expect(b.x509Authorities).toEqual([]);
    expect(b.jwtAuthorities.size).toBe(0);
    expect(b.sequence).toBeNull();
    expect(b.refreshHintSeconds).toBeNull();
  });

  it('only the first x5c value is the authority', () => {
    const b = parseSpiffeBundle(TD, { keys: [x509Key(root, { x5c: [x509Key(root).x5c[0], 'not base64 at all'] })] });
    expect(b.x509Authorities.map((c) => c.fingerprint)).toEqual([root.fingerprint]);
  });

  it('accepts the three JWT key types', async () => {
    const b = parseSpiffeBundle(TD, {
      keys: [await jwtJwk('ec'), await jwtJwk('rsa', { kty: 'RSA' }), await jwtJwk('okp', { kty: 'OKP' })],
    });
    expect([...b.jwtAuthorities.keys()]).toEqual(['ec', 'rsa', 'okp']);
  });
});

describe('parseSpiffeBundle: a damaged document is refused whole', () => {
  it('not JSON, not an object, no keys list, a key that is not an object', () => {
    expect(refused('{')).toMatchObject({ code: 'bundle_json', message: expect.stringMatching(/is not JSON/) });
    for (const doc of ['[]', '7', 'null', [], null, 7]) {
      expect(refused(doc)).toMatchObject({ code: 'bundle_json', message: expect.stringMatching(/not a JSON object/) });
    }
    expect(refused({})).toMatchObject({ code: 'bundle_keys', message: expect.stringMatching(/has no keys/) });
    expect(refused({ keys: {} })).toMatchObject({ code: 'bundle_keys' });
    expect(refused({ keys: [null] })).toMatchObject({ code: 'bundle_keys', message: expect.stringMatching(/key 0/) });
    expect(refused({ keys: ['x'] })).toMatchObject({ code: 'bundle_keys', message: expect.stringMatching(/key 0/) });
  });

  it('an x509-svid key without a usable x5c', async () => {
    const bad = (x5c: unknown) => refused({ keys: [x509Key(root, { x5c })] });
    for (const x5c of [undefined, 'abc', [], [7]]) {
      expect(bad(x5c)).toMatchObject({ code: 'bundle_x509', message: expect.stringMatching(/key 0 .* has no x5c/) });
    }
    for (const x5c of [['not base64!'], ['QUJD\n'], ['QUJD===='], ['']]) {
      expect(bad(x5c).message, String(x5c)).toMatch(/is not base64/);
    }
    expect(bad(['QUJD'])).toMatchObject({ code: 'bundle_x509', message: expect.stringMatching(/not a certificate/) });
    // The bad key is named by its index.
    const doc = { keys: [x509Key(root), x509Key(root, { x5c: [] })] };
    expect(refused(doc).message).toMatch(/x509-svid key 1 of the example.org bundle/);
  });

  it('a jwt-svid key without a kid, with private material, or with a kid used twice', async () => {
    expect(refused({ keys: [await jwtJwk('')] })).toMatchObject({
      code: 'bundle_jwt',
      message: expect.stringMatching(/has no kid/),
    });
    expect(refused({ keys: [await jwtJwk('k', { kid: 7 })] })).toMatchObject({ code: 'bundle_jwt' });
    for (const secret of ['d', 'p', 'k']) {
      expect(refused({ keys: [await jwtJwk('k', { [secret]: 'AAAA' })] })).toMatchObject({
        code: 'bundle_jwt',
        message: expect.stringMatching(/private material/),
      });
    }
    expect(refused({ keys: [await jwtJwk('k'), await jwtJwk('k')] })).toMatchObject({
      code: 'bundle_jwt',
      message: expect.stringMatching(/two jwt-svid keys with the same kid/),
    });
  });

  it('spiffe_sequence must be a non-negative integer; spiffe_refresh_hint a positive finite number', () => {
    expect(parseSpiffeBundle(TD, { keys: [], spiffe_sequence: 0 }).sequence).toBe(0n);
    expect(parseSpiffeBundle(TD, { keys: [], spiffe_refresh_hint: 0.5 }).refreshHintSeconds).toBe(0.5);
    for (const v of [-1, 1.5, '3', null]) {
      expect(refused({ keys: [], spiffe_sequence: v })).toMatchObject({
        code: 'bundle_json',
        message: expect.stringMatching(/spiffe_sequence/),
      });
    }
    for (const v of [0, -1, Number.POSITIVE_INFINITY, Number.NaN, '3', null]) {
      expect(refused({ keys: [], spiffe_refresh_hint: v })).toMatchObject({
        code: 'bundle_json',
        message: expect.stringMatching(/spiffe_refresh_hint/),
      });
    }
  });
});

describe('mergeBundles', () => {
  const part = (over: Partial<TrustBundle>): TrustBundle => ({
    trustDomain: TD,
    x509Authorities: [],
    jwtAuthorities: new Map(),
    sequence: null,
    refreshHintSeconds: null,
    ...over,
  });

  it('never merges bundles of different trust domains', () => {
    expect(() => mergeBundles(TD, [part({}), part({ trustDomain: 'other.org' })])).toThrow(/never merged/);
  });

  it('unites authorities once each, keeps the first JWT key of a kid, the highest sequence and the last hint', async () => {
    const a = bundleFromPem(TD, root.pem);
    const b = bundleFromPem(TD, root.pem + second.pem);
    const k1 = await jwtJwk('k');
    const k2 = await jwtJwk('k', { alg: 'ES256' });
    const m = mergeBundles(TD, [
      part({ x509Authorities: a.x509Authorities, jwtAuthorities: new Map([['k', k1]]), sequence: 5n }),
      part({ x509Authorities: b.x509Authorities, jwtAuthorities: new Map([['k', k2]]), refreshHintSeconds: 60 }),
      part({ sequence: 9n, refreshHintSeconds: 30 }),
      part({ sequence: 2n }),
    ]);
    expect(m.trustDomain).toBe(TD);
    expect(m.x509Authorities.map((c) => c.fingerprint)).toEqual([root.fingerprint, second.fingerprint]);
    expect(m.jwtAuthorities.get('k')).toBe(k1);
    expect(m.sequence).toBe(9n);
    expect(m.refreshHintSeconds).toBe(30);
    expect(mergeBundles(TD, [part({ sequence: 3n }), part({})]).sequence).toBe(3n);
    expect(mergeBundles(TD, [part({ refreshHintSeconds: 10 }), part({})]).refreshHintSeconds).toBe(10);
    expect(mergeBundles(TD, [])).toMatchObject({ sequence: null, refreshHintSeconds: null, x509Authorities: [] });
  });

  it('a leaf certificate in a bundle is still only a candidate authority (the verifier checks cA)', async () => {
    const notCa = await createCertificate({ subject: 'CN=leaf', ca: false });
    expect(bundleFromPem(TD, notCa.pem).x509Authorities[0]?.basicConstraints).toEqual({ ca: false, pathLength: null });
  });
});
