/**
 * Certificate decoding and signature checks under attack: DER that a lenient reader would accept (trailing bytes, a
 * fourth part, a padded signature, a swapped signature algorithm, a repeated extension), URI SANs with bytes outside
 * ASCII, PEM framing, and the signature algorithms other than ECDSA (RSASSA-PSS, Ed25519). Each edit is made to a
 * certificate generated here; the rule it protects is in the test name. See docs/mutation/x509.md.
 */
import { webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleFromPem } from '../../src/identity/bundle.js';
import {
  parseCertificate,
  parsePemCertificates,
  pemToDers,
  signatureVerifies,
} from '../../src/identity/certificate.js';
import { TrustBundleSet } from '../../src/identity/trust-bundles.js';
import { IdentityError } from '../../src/identity/types.js';
import { verifyX509Svid } from '../../src/identity/x509-svid.js';
import { certificateRefusal } from '../support/certificate-refusal.js';
import { children, tlv } from '../support/der.js';
import { BASE_TIME, createCa, createSvid, type Issued, tamperSignature, x509 } from '../support/pki.js';

const NOW = BASE_TIME;
const DAY = 86_400_000;
const ID = 'spiffe://example.org/ns/default/sa/web';

let root: Issued;
let leaf: Issued;

function toPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
}

function refusal(pem: string, set: TrustBundleSet): string {
  try {
    verifyX509Svid(pem, set, NOW);
  } catch (err) {
    if (err instanceof IdentityError) return err.code;
    throw err;
  }
  throw new Error('expected the certificate to be refused');
}

function trusting(ca: Issued): TrustBundleSet {
  const set = new TrustBundleSet();
  set.set(bundleFromPem('example.org', ca.pem));
  return set;
}

beforeAll(async () => {
  root = await createCa({ trustDomain: 'example.org' });
  leaf = await createSvid(root, ID);
});

describe('DER that a lenient reader would accept is refused', () => {
  it('the unmodified leaf parses and verifies (the baseline every edit below departs from)', () => {
    const c = parseCertificate(Buffer.from(leaf.der));
    expect(signatureVerifies(c, parseCertificate(Buffer.from(root.der)))).toBe(true);
  });

  it('an empty TBS is refused as malformed (not a crash), with the DER error kept as the cause', () => {
    const [, alg, sig] = children(leaf.der);
    const der = tlv(0x30, Buffer.concat([tlv(0x30, Buffer.alloc(0)), alg!, sig!]));
    expect(certificateRefusal(der)).toMatch(/expected serialNumber/);
    try {
      parseCertificate(der);
    } catch (err) {
      expect((err as Error).cause).toBeInstanceOf(Error);
      expect(((err as Error).cause as Error).name).toBe('DerError');
      expect((err as Error).name).toBe('CertificateParseError');
    }
  });

  it('one byte after the certificate: refused (one certificate, one encoding, one fingerprint)', () => {
    expect(certificateRefusal(Buffer.concat([Buffer.from(leaf.der), Buffer.from([0])]))).toMatch(/trailing bytes/);
  });

  it('a fourth part after the signature: refused', () => {
    const [tbs, alg, sig] = children(leaf.der);
    const four = tlv(0x30, Buffer.concat([tbs!, alg!, sig!, tlv(0x05, Buffer.alloc(0))]));
    expect(certificateRefusal(four)).toMatch(/exactly three parts/);
    expect(certificateRefusal(tlv(0x30, Buffer.concat([tbs!, alg!])))).toMatch(/exactly three parts/);
  });

  it('a signature BIT STRING with unused bits set, or empty, is refused', () => {
    const [tbs, alg, sig] = children(leaf.der);
    const padded = Buffer.from(sig!);
    // The first content byte of a BIT STRING counts the unused bits of its last byte.
    padded[padded[1]! & 0x80 ? 2 + (padded[1]! & 0x7f) : 2] = 1;
    expect(certificateRefusal(tlv(0x30, Buffer.concat([tbs!, alg!, padded])))).toMatch(/bad signature BIT STRING/);
    const empty = tlv(0x30, Buffer.concat([tbs!, alg!, tlv(0x03, Buffer.from([0]))]));
    expect(certificateRefusal(empty)).toMatch(/bad signature BIT STRING/);
  });

  it('an outer signature algorithm that differs from the signed one is refused (no algorithm substitution)', () => {
    const [tbs, , sig] = children(leaf.der);
    // ecdsa-with-SHA384 where the TBS says ecdsa-with-SHA256.
    const sha384 = Buffer.from('300a06082a8648ce3d040303', 'hex');
    expect(certificateRefusal(tlv(0x30, Buffer.concat([tbs!, sha384, sig!])))).toMatch(/signature algorithms differ/);
  });

  it('an extension that appears twice is refused (which keyUsage would count?)', async () => {
    const twice = await createSvid(root, ID, {
      extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
    });
    expect(certificateRefusal(Buffer.from(twice.der))).toMatch(/2\.5\.29\.15 appears twice/);
    expect(refusal(twice.pem, trusting(root))).toBe('svid_malformed');
  });
});

describe('URI SANs are read as ASCII only', () => {
  /** A SAN extension holding one URI whose bytes are given raw (IA5String content is not re-encoded). */
  const rawUriSan = (bytes: Buffer) => new x509.Extension('2.5.29.17', false, tlv(0x30, tlv(0x86, bytes)));

  it('a byte ≥ 0x80 becomes U+FFFD, so it can never be dropped into a valid SPIFFE ID', async () => {
    const uri = Buffer.concat([Buffer.from('spiffe://example.org/ns/de'), Buffer.from([0x80]), Buffer.from('fault')]);
    const c = await createSvid(root, ID, { uris: [], extensions: [rawUriSan(uri)] });
    expect(parseCertificate(Buffer.from(c.der)).uris).toEqual(['spiffe://example.org/ns/de\ufffdfault']);
    expect(refusal(c.pem, trusting(root))).toBe('svid_invalid_spiffe_id');
  });

  it('ASCII bytes up to 0x7f are kept as they are', async () => {
    const c = await createSvid(root, ID, { uris: [], extensions: [rawUriSan(Buffer.from(`${ID}\x7f`))] });
    expect(parseCertificate(Buffer.from(c.der)).uris).toEqual([`${ID}\x7f`]);
  });
});

describe('PEM framing', () => {
  it('reads every CERTIFICATE block in order, line-wrapped or not, and ignores text between blocks', () => {
    const ders = pemToDers(`comment\n${leaf.pem}between\n${toPem(Buffer.from(root.der))}`);
    expect(ders.map((d) => d.equals(Buffer.from(leaf.der)))).toEqual([true, false]);
    expect(ders[1]!.equals(Buffer.from(root.der))).toBe(true);
    expect(parsePemCertificates('no PEM here')).toEqual([]);
  });

  it('a block that is empty or not whole base64, or only non-certificate blocks, is refused', () => {
    const frame = (body: string) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
    expect(() => pemToDers(frame(''))).toThrow(/not valid base64/);
    expect(() => pemToDers(frame('QUJD'.repeat(3) + 'QUJ'))).toThrow(/not valid base64/);
    expect(() => pemToDers('-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n')).toThrow(
      /no well-formed CERTIFICATE block/,
    );
  });
});

describe('signature algorithms other than ECDSA', () => {
  type Alg = { gen: webcrypto.RsaHashedKeyGenParams | webcrypto.Algorithm; sign: webcrypto.Algorithm };
  const PSS: Alg = {
    gen: { name: 'RSA-PSS', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    sign: { name: 'RSA-PSS', saltLength: 32 } as webcrypto.Algorithm,
  };
  const ED25519: Alg = { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
  const SHA1: Alg = {
    gen: {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-1',
    } as webcrypto.RsaHashedKeyGenParams,
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  };

  /** A root and a leaf, both with `alg` keys, the leaf signed by the root (pki.ts only makes ECDSA and RSA PKCS#1). */
  async function pair(alg: Alg) {
    const make = async (
      subject: string,
      keys: webcrypto.CryptoKeyPair,
      signer: webcrypto.CryptoKeyPair,
      issuer: string,
      leafExt: boolean,
    ) => {
      const extensions: x509.Extension[] = leafExt
        ? [
            new x509.BasicConstraintsExtension(false, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
            new x509.SubjectAlternativeNameExtension([{ type: 'url', value: ID }]),
          ]
        : [
            new x509.BasicConstraintsExtension(true, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
          ];
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: '01',
        subject,
        issuer,
        notBefore: new Date(NOW - DAY),
        notAfter: new Date(NOW + DAY),
        signingAlgorithm: alg.sign,
        publicKey: keys.publicKey,
        signingKey: signer.privateKey,
        extensions,
      });
      const der = Buffer.from(cert.rawData);
      return { der, pem: toPem(der) };
    };
    const gen = async () =>
      (await webcrypto.subtle.generateKey(alg.gen, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const rootKeys = await gen();
    const ca = await make('CN=alg root', rootKeys, rootKeys, 'CN=alg root', false);
    const svid = await make('CN=alg leaf', await gen(), rootKeys, 'CN=alg root', true);
    const set = new TrustBundleSet();
    set.set(bundleFromPem('example.org', ca.pem));
    return { ca, svid, set };
  }

  for (const [name, alg, oid] of [
    ['RSASSA-PSS', PSS, '1.2.840.113549.1.1.10'],
    ['Ed25519', ED25519, '1.3.101.112'],
  ] as const) {
    it(`${name}: a good signature verifies; one flipped bit, or the wrong issuer key type, does not`, async () => {
      const { ca, svid, set } = await pair(alg);
      expect(verifyX509Svid(svid.pem, set, NOW).spiffeId).toBe(ID);
      const flipped = Buffer.from(svid.der);
      flipped[flipped.length - 1]! ^= 1;
      expect(refusal(toPem(flipped), set)).toBe('svid_bad_signature');
      const c = parseCertificate(svid.der);
      expect(c.signatureAlgorithm).toBe(oid);
      expect(signatureVerifies(c, parseCertificate(ca.der))).toBe(true);
      // An ECDSA root cannot vouch for this signature, and this root cannot vouch for an ECDSA one.
      expect(signatureVerifies(c, parseCertificate(Buffer.from(root.der)))).toBe(false);
      expect(signatureVerifies(parseCertificate(Buffer.from(leaf.der)), parseCertificate(ca.der))).toBe(false);
    });
  }

  it('a SHA-1 signature never verifies, even a genuine one (sha1WithRSAEncryption is not accepted)', async () => {
    const { ca, svid, set } = await pair(SHA1);
    const c = parseCertificate(svid.der);
    expect(c.signatureAlgorithm).toBe('1.2.840.113549.1.1.5');
    expect(signatureVerifies(c, parseCertificate(ca.der))).toBe(false);
    expect(refusal(svid.pem, set)).toBe('svid_bad_signature');
  });

  it('an issuer whose public key cannot be decoded verifies nothing (and does not throw)', () => {
    const rootDer = Buffer.from(root.der);
    const [tbs, alg, sig] = children(rootDer);
    const tbsParts = children(tbs!);
    // subjectPublicKeyInfo (7th part after the version) with an EC algorithm and a key that is not a point.
    const badSpki = tlv(
      0x30,
      Buffer.concat([
        tlv(0x30, Buffer.from('06072a8648ce3d020106082a8648ce3d030107', 'hex')),
        tlv(0x03, Buffer.from([0, 4, 1, 2, 3])),
      ]),
    );
    tbsParts[6] = badSpki;
    const badRoot = parseCertificate(tlv(0x30, Buffer.concat([tlv(0x30, Buffer.concat(tbsParts)), alg!, sig!])));
    expect(() => badRoot.publicKey()).toThrow();
    expect(signatureVerifies(parseCertificate(Buffer.from(leaf.der)), badRoot)).toBe(false);
  });

  it('ECDSA and RSA signatures fail against a key of the other type', async () => {
    const rsaRoot = await createCa({ trustDomain: 'example.org', keyAlgorithm: 'rsa-2048' });
    const rsaLeaf = await createSvid(rsaRoot, ID, { keyAlgorithm: 'rsa-2048' });
    expect(signatureVerifies(parseCertificate(Buffer.from(rsaLeaf.der)), parseCertificate(Buffer.from(root.der)))).toBe(
      false,
    );
    expect(signatureVerifies(parseCertificate(Buffer.from(leaf.der)), parseCertificate(Buffer.from(rsaRoot.der)))).toBe(
      false,
    );
    expect(refusal(tamperSignature(rsaLeaf), trusting(rsaRoot))).toBe('svid_bad_signature');
  });
});
