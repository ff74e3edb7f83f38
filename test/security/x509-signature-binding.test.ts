import { createPrivateKey, generateKeyPairSync, type KeyObject as Key, sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate, signatureVerifies } from '../../src/identity/certificate.js';
import { children, tlv } from '../support/der.js';
import { createCa, createSvid, type Issued } from '../support/pki.js';

/**
 * A signature verifies only under the algorithm the certificate names AND the issuer's key type (RFC 5280 4.1.1.2:
 * signatureAlgorithm names the algorithm the CA used). A genuine signature of the issuer, relabelled as another
 * algorithm, is refused: RSA PKCS#1 bytes called ECDSA or Ed25519, ECDSA bytes called RSA. Node's `verify` would
 * accept some of these if asked with the issuer's key alone (it picks the scheme from the key), so the check is ours.
 * Certificates are re-signed here with node:crypto over an edited TBS (test-side DER, independent of der.ts).
 */

const ID = 'spiffe://example.org/ns/default/sa/web';

/** AlgorithmIdentifier DER of the signature algorithms involved. */
const ALG = {
  ecdsaSha256: Buffer.from('300a06082a8648ce3d040302', 'hex'),
  rsaSha256: Buffer.from('300d06092a864886f70d01010b0500', 'hex'),
  ed25519: Buffer.from('300506032b6570', 'hex'),
  ed448: Buffer.from('300506032b6571', 'hex'),
};

/**
 * `cert` with its signature algorithm (inner and outer) set to `alg`, optionally another subjectPublicKeyInfo, and
 * its TBS signed by `signWith` (a real signature over the edited bytes).
 */
function reSigned(cert: Uint8Array, alg: Buffer, signWith: (tbs: Buffer) => Buffer, spki?: Buffer): Buffer {
  const tbs = children(children(cert)[0]!);
  // version [0], serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
  tbs[2] = alg;
  if (spki) tbs[6] = spki;
  const body = tlv(0x30, Buffer.concat(tbs));
  return tlv(0x30, Buffer.concat([body, alg, tlv(0x03, Buffer.concat([Buffer.from([0]), signWith(body)]))]));
}

const rsaPkcs1 = (key: Key) => (tbs: Buffer) => sign('sha256', tbs, key);
const ecdsa = (key: Key) => (tbs: Buffer) => sign('sha256', tbs, { key, dsaEncoding: 'der' });
const eddsa = (key: Key) => (tbs: Buffer) => sign(null, tbs, key);

let ecRoot: Issued;
let rsaRoot: Issued;
let leaf: Issued;
let ecKey: Key;
let rsaKey: Key;

beforeAll(async () => {
  ecRoot = await createCa({ trustDomain: 'example.org' });
  rsaRoot = await createCa({ trustDomain: 'example.org', keyAlgorithm: 'rsa-2048' });
  leaf = await createSvid(ecRoot, ID);
  ecKey = createPrivateKey(ecRoot.keyPem);
  rsaKey = createPrivateKey(rsaRoot.keyPem);
});

const verifies = (child: Buffer, issuer: Uint8Array) =>
  signatureVerifies(parseCertificate(child), parseCertificate(Buffer.from(issuer)));

describe('the signature algorithm a certificate names must be its issuer key’s', () => {
  it('an RSA issuer’s PKCS#1 signature verifies as sha256WithRSAEncryption, not relabelled ECDSA or Ed25519', () => {
    expect(verifies(reSigned(leaf.der, ALG.rsaSha256, rsaPkcs1(rsaKey)), rsaRoot.der)).toBe(true);
    expect(verifies(reSigned(leaf.der, ALG.ecdsaSha256, rsaPkcs1(rsaKey)), rsaRoot.der)).toBe(false);
    expect(verifies(reSigned(leaf.der, ALG.ed25519, rsaPkcs1(rsaKey)), rsaRoot.der)).toBe(false);
  });

  it('an EC issuer’s ECDSA signature verifies as ecdsa-with-SHA256, not relabelled RSA', () => {
    expect(verifies(reSigned(leaf.der, ALG.ecdsaSha256, ecdsa(ecKey)), ecRoot.der)).toBe(true);
    expect(verifies(reSigned(leaf.der, ALG.rsaSha256, ecdsa(ecKey)), ecRoot.der)).toBe(false);
  });

  it('an Ed448 issuer verifies an Ed448 signature (and not a flipped one, nor one labelled Ed448 by RSA)', () => {
    const ed448 = generateKeyPairSync('ed448');
    const spki = ed448.publicKey.export({ type: 'spki', format: 'der' });
    // The issuer: a CA certificate carrying the Ed448 key (its own signature is not what is checked here).
    const issuer = reSigned(ecRoot.der, ALG.ed448, eddsa(ed448.privateKey), spki);
    const good = reSigned(leaf.der, ALG.ed448, eddsa(ed448.privateKey));
    expect(verifies(good, issuer)).toBe(true);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1]! ^= 1;
    expect(verifies(flipped, issuer)).toBe(false);
    expect(verifies(reSigned(leaf.der, ALG.ed448, rsaPkcs1(rsaKey)), rsaRoot.der)).toBe(false);
  });
});
