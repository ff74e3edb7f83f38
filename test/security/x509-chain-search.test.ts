/**
 * How the X.509-SVID verifier searches for a chain when several certificates could be the issuer (re-issued and
 * cross-signed CAs share a name and a key): a candidate that fails, or whose own issuers lead nowhere, must not hide
 * one that works; the reason reported is the first specific failure; a crafted set of look-alike CAs cannot make
 * the search expensive. Also: what an empty or undecodable presentation is told. See docs/mutation/x509.md.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleFromPem } from '../../src/identity/bundle.js';
import { CertificateParseError } from '../../src/identity/certificate.js';
import { SpiffeIdError } from '../../src/identity/spiffe-id.js';
import { TrustBundleSet } from '../../src/identity/trust-bundles.js';
import { IdentityError } from '../../src/identity/types.js';
import { verifyX509Svid } from '../../src/identity/x509-svid.js';
import { BASE_TIME, createCa, createCertificate, createSvid, generateKeys, type Issued } from '../support/pki.js';

const DAY = 86_400_000;
const NOW = BASE_TIME;
const ID = 'spiffe://example.org/ns/default/sa/web';

let root: Issued;
let bundles: TrustBundleSet;

function trusting(cas: readonly Issued[]): TrustBundleSet {
  const set = new TrustBundleSet();
  set.set(bundleFromPem('example.org', cas.map((c) => c.pem).join('')));
  return set;
}

function denied(pem: string, set: TrustBundleSet = bundles): IdentityError {
  try {
    verifyX509Svid(pem, set, NOW);
  } catch (err) {
    if (err instanceof IdentityError) return err;
    throw err;
  }
  throw new Error('expected the certificate to be refused');
}

/** Another certificate with the root's name and key (as a re-issued root has), with its own flaw. */
function rootCopy(spec: { notBefore?: Date; notAfter?: Date; ca?: boolean }): Promise<Issued> {
  return createCertificate({
    subject: root.cert.subject,
    keys: root.keys,
    ca: spec.ca ?? true,
    keyUsage: ['keyCertSign', 'cRLSign'],
    uris: ['spiffe://example.org'],
    ...(spec.notBefore ? { notBefore: spec.notBefore } : {}),
    ...(spec.notAfter ? { notAfter: spec.notAfter } : {}),
  });
}

beforeAll(async () => {
  root = await createCa({ trustDomain: 'example.org' });
  bundles = trusting([root]);
});

describe('a failing candidate issuer does not hide a good one', () => {
  it('a cross-signed intermediate: the copy whose issuer is unknown is passed over for the copy under the root', async () => {
    const stranger = await createCa({ trustDomain: 'example.org', subject: 'CN=stranger' });
    const keys = await generateKeys();
    const viaStranger = await createCa({ trustDomain: 'example.org', subject: 'CN=cross', keys, issuer: stranger });
    const viaRoot = await createCa({ trustDomain: 'example.org', subject: 'CN=cross', keys, issuer: root });
    const leaf = await createSvid(viaRoot, ID);
    expect(verifyX509Svid(leaf.pem + viaStranger.pem + viaRoot.pem, bundles, NOW).spiffeId).toBe(ID);
    expect(verifyX509Svid(leaf.pem + viaRoot.pem + viaStranger.pem, bundles, NOW).spiffeId).toBe(ID);
    // Only the stranger's copy: no chain.
    expect(denied(leaf.pem + viaStranger.pem).code).toBe('svid_bad_chain');
  });
});

describe('the reason given is the first specific failure', () => {
  it('expired, then not a CA: "expired"; not a CA, then expired: still "expired"', async () => {
    const expired = await rootCopy({ notBefore: new Date(NOW - 9 * DAY), notAfter: new Date(NOW - DAY) });
    const notCa = await rootCopy({ ca: false });
    const leaf = await createSvid(root, ID);
    expect(denied(leaf.pem, trusting([expired, notCa])).code).toBe('svid_expired');
    expect(denied(leaf.pem, trusting([notCa, expired])).code).toBe('svid_expired');
    expect(denied(leaf.pem, trusting([notCa])).safeMessage).toBe(
      'a certificate in the chain signs others but is not a CA',
    );
  });

  it('of two specific failures, the first one found is reported', async () => {
    const expired = await rootCopy({ notBefore: new Date(NOW - 9 * DAY), notAfter: new Date(NOW - DAY) });
    const future = await rootCopy({ notBefore: new Date(NOW + DAY), notAfter: new Date(NOW + 9 * DAY) });
    const leaf = await createSvid(root, ID);
    expect(denied(leaf.pem, trusting([expired, future])).code).toBe('svid_expired');
    expect(denied(leaf.pem, trusting([future, expired]))).toMatchObject({
      code: 'svid_not_yet_valid',
      safeMessage: 'a CA certificate in the chain is not yet valid',
    });
  });
});

describe('a crafted set of look-alike CAs cannot make the search expensive', () => {
  it('seven self-issued CAs sharing one name and key are refused once the signature budget is spent', async () => {
    const keys = await generateKeys();
    const loop = await createCertificate({ subject: 'CN=loop', keys, ca: true });
    const copies: Issued[] = [];
    for (let i = 0; i < 7; i++)
      copies.push(await createCertificate({ subject: 'CN=loop', keys, ca: true, issuer: loop }));
    const leaf = await createSvid(loop, ID);
    expect(denied(leaf.pem + copies.map((c) => c.pem).join(''))).toMatchObject({
      code: 'svid_bad_chain',
      safeMessage: 'the certificate chain is too expensive to build',
    });
  });
});

describe('what an empty or undecodable presentation is told', () => {
  it('no certificate at all is malformed, not anonymous', () => {
    for (const pem of ['', 'no PEM here']) {
      expect(denied(pem)).toMatchObject({ code: 'svid_malformed', safeMessage: 'no certificate was presented' });
    }
  });

  it('the decoding or SPIFFE ID error is kept as the cause, for logs', async () => {
    const garbage = denied('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    expect(garbage.cause).toBeInstanceOf(CertificateParseError);
    const bad = denied((await createSvid(root, ID, { uris: ['https://example.org/web'] })).pem);
    expect(bad.cause).toBeInstanceOf(SpiffeIdError);
    expect(denied((await createSvid(root, ID, { notAfter: new Date(NOW - 1) })).pem).cause).toBeUndefined();
  });
});
