import {
  constants,
  createHash,
  createPublicKey,
  type KeyObject,
  X509Certificate as NodeX509,
  verify,
} from 'node:crypto';
import {
  children,
  DerError,
  expectTag,
  readBoolean,
  readNamedBits,
  readOid,
  readSmallInt,
  readTime,
  readTlv,
  TAG,
  type Tlv,
} from './der.js';

/**
 * One parsed X.509 certificate: the facts the SVID rules read, decoded once by our small DER reader, and the exact
 * bytes a signature check needs (TBS, algorithm, signature, issuer/subject names, key ids). Signatures are checked
 * with node:crypto `verify` (native and synchronous, so verification never needs a Promise).
 *
 * Why not node's X509Certificate for every certificate: constructing one measured ~4× the cost of the ECDSA
 * signature check itself (bench/identity.ts, first sight), and it exposes neither keyUsage bits nor criticality.
 * It is still used as a fallback verifier for RSASSA-PSS, whose parameters we do not decode.
 */
export interface CertInfo {
  readonly der: Buffer;
  /** Lowercase hex SHA-256 of the DER. */
  readonly fingerprint: string;
  /** The DER of tbsCertificate (what the issuer signed). */
  readonly tbs: Buffer;
  readonly signatureAlgorithm: string;
  readonly signature: Buffer;
  /** DER of the issuer and subject Names: chains link by exact bytes, as Go's and OpenSSL's builders do. */
  readonly issuerName: Buffer;
  readonly subjectName: Buffer;
  readonly subjectKeyId: Buffer | null;
  readonly authorityKeyId: Buffer | null;
  /** The subject public key (parsed on first use, then kept: only issuers' keys are ever used). */
  publicKey(): KeyObject;
  readonly notBefore: number;
  readonly notAfter: number;
  /** basicConstraints, or null when the extension is absent. */
  readonly basicConstraints: { readonly ca: boolean; readonly pathLength: number | null } | null;
  /** keyUsage flags ({@link KEY_USAGE} bits), or null when absent. */
  readonly keyUsage: number | null;
  /** extendedKeyUsage OIDs, or null when absent. */
  readonly extKeyUsage: readonly string[] | null;
  readonly uris: readonly string[];
  /** OIDs of critical extensions this verifier does not understand (RFC 5280: such a certificate is rejected). */
  readonly unknownCritical: readonly string[];
}

/** keyUsage bits as RFC 5280 numbers them (bit 0 = digitalSignature). */
export const KEY_USAGE = {
  digitalSignature: 1 << 0,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
} as const;

export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
export const EKU_ANY = '2.5.29.37.0';

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SAN = '2.5.29.17';
const OID_SKI = '2.5.29.14';
const OID_AKI = '2.5.29.35';
const OID_RSA_PSS = '1.2.840.113549.1.1.10';

/**
 * Signature algorithms verified natively. SHA-1 (and anything unknown) is absent on purpose: such a signature never
 * verifies. RSASSA-PSS goes through node's X509Certificate (see {@link signatureVerifies}).
 */
const SIGNATURE_ALGORITHMS: ReadonlyMap<
  string,
  { readonly hash: string | null; readonly kind: 'ecdsa' | 'rsa' | 'eddsa' }
> = new Map([
  ['1.2.840.10045.4.3.2', { hash: 'sha256', kind: 'ecdsa' }],
  ['1.2.840.10045.4.3.3', { hash: 'sha384', kind: 'ecdsa' }],
  ['1.2.840.10045.4.3.4', { hash: 'sha512', kind: 'ecdsa' }],
  ['1.2.840.113549.1.1.11', { hash: 'sha256', kind: 'rsa' }],
  ['1.2.840.113549.1.1.12', { hash: 'sha384', kind: 'rsa' }],
  ['1.2.840.113549.1.1.13', { hash: 'sha512', kind: 'rsa' }],
  ['1.3.101.112', { hash: null, kind: 'eddsa' }],
  ['1.3.101.113', { hash: null, kind: 'eddsa' }],
]);
/** GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String. */
const TAG_SAN_URI = 0x86;
/**
 * Extensions whose meaning we enforce (or that carry no constraint). nameConstraints (2.5.29.30) and
 * policyConstraints are deliberately absent: we do not enforce them, so a certificate that marks them critical is
 * refused rather than accepted with the constraint silently ignored.
 */
const UNDERSTOOD = new Set([OID_BASIC_CONSTRAINTS, OID_KEY_USAGE, OID_EXT_KEY_USAGE, OID_SAN, OID_SKI, OID_AKI]);

/** A certificate could not be decoded. The message names no certificate content. */
export class CertificateParseError extends Error {
  override readonly name = 'CertificateParseError';
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g;

/** The DER of every CERTIFICATE block in `pem`, in order. Anything between blocks is ignored. */
export function pemToDers(pem: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of pem.matchAll(PEM_BLOCK)) {
    const b64 = m[1]!.replace(/\s+/g, '');
    if (b64.length === 0 || b64.length % 4 !== 0) throw new CertificateParseError('a PEM block is not valid base64');
    out.push(Buffer.from(b64, 'base64'));
  }
  if (out.length === 0 && pem.includes('-----BEGIN')) {
    throw new CertificateParseError('no well-formed CERTIFICATE block in the PEM');
  }
  return out;
}

/** Decodes one DER certificate. Throws {@link CertificateParseError}. */
export function parseCertificate(der: Buffer): CertInfo {
  let fields: Fields;
  try {
    fields = readFields(der);
  } catch (err) {
    if (err instanceof DerError || err instanceof CertificateParseError) {
      throw new CertificateParseError(`the certificate is malformed: ${err.message}`, { cause: err });
    }
    throw err;
  }
  let key: KeyObject | null = null;
  const spki = fields.spki;
  return {
    der,
    fingerprint: createHash('sha256').update(der).digest('hex'),
    ...fields,
    publicKey() {
      key ??= createPublicKey({ key: spki, format: 'der', type: 'spki' });
      return key;
    },
  };
}

type Fields = Omit<CertInfo, 'der' | 'fingerprint' | 'publicKey'> & { readonly spki: Buffer };

/** A TLV's content, or its whole encoding (tag and length included) with `withHeader`. No copy. */
function bytes(der: Buffer, t: Tlv, withHeader = false): Buffer {
  return der.subarray(withHeader ? t.pos : t.start, t.end);
}

function readFields(der: Buffer): Fields {
  const cert = expectTag(readTlv(der, 0, der.length), TAG.SEQUENCE, 'Certificate');
  if (cert.end !== der.length) throw new DerError('trailing bytes after the certificate');
  const top = children(der, cert);
  if (top.length !== 3) throw new DerError('a Certificate has exactly three parts');
  const tbsTlv = expectTag(top[0], TAG.SEQUENCE, 'TBSCertificate');
  const outerAlg = expectTag(top[1], TAG.SEQUENCE, 'signatureAlgorithm');
  const sigBits = expectTag(top[2], TAG.BIT_STRING, 'signatureValue');
  if (sigBits.end - sigBits.start < 2 || der[sigBits.start] !== 0) throw new DerError('bad signature BIT STRING');
  const tbs = children(der, tbsTlv);
  // version [0] is optional; then serial, signature, issuer, validity, subject, spki, [1], [2], [3] extensions.
  let i = tbs[0]?.tag === 0xa0 ? 1 : 0;
  expectTag(tbs[i++], TAG.INTEGER, 'serialNumber');
  const innerAlg = expectTag(tbs[i++], TAG.SEQUENCE, 'signature');
  // RFC 5280 4.1.1.2: the signed algorithm must be the one the signature claims (no algorithm substitution).
  if (!bytes(der, innerAlg).equals(bytes(der, outerAlg))) throw new DerError('signature algorithms differ');
  const issuer = expectTag(tbs[i++], TAG.SEQUENCE, 'issuer');
  const validity = children(der, expectTag(tbs[i++], TAG.SEQUENCE, 'Validity'));
  const subject = expectTag(tbs[i++], TAG.SEQUENCE, 'subject');
  const spki = expectTag(tbs[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const algOid = readOid(der, expectTag(children(der, outerAlg)[0], TAG.OID, 'algorithm'));
  const fields: { -readonly [K in keyof Fields]: Fields[K] } & { unknownCritical: string[]; uris: string[] } = {
    tbs: bytes(der, tbsTlv, true),
    signatureAlgorithm: algOid,
    signature: der.subarray(sigBits.start + 1, sigBits.end),
    issuerName: bytes(der, issuer, true),
    subjectName: bytes(der, subject, true),
    spki: bytes(der, spki, true),
    subjectKeyId: null,
    authorityKeyId: null,
    notBefore: readTime(der, validity[0] ?? fail('notBefore')),
    notAfter: readTime(der, validity[1] ?? fail('notAfter')),
    basicConstraints: null,
    keyUsage: null,
    extKeyUsage: null,
    uris: [],
    unknownCritical: [],
  };
  const extsWrapper = tbs.slice(i).find((t) => t.tag === 0xa3);
  if (!extsWrapper) return fields;
  const exts = expectTag(children(der, extsWrapper)[0], TAG.SEQUENCE, 'Extensions');
  const seen = new Set<string>();
  for (const ext of children(der, exts)) {
    const parts = children(der, expectTag(ext, TAG.SEQUENCE, 'Extension'));
    const oid = readOid(der, expectTag(parts[0], TAG.OID, 'extnID'));
    const critical = parts.length === 3 ? readBoolean(der, parts[1]!) : false;
    const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue');
    // RFC 5280 4.2: a certificate must not include more than one instance of an extension.
    if (seen.has(oid)) throw new CertificateParseError(`extension ${oid} appears twice`);
    seen.add(oid);
    if (critical && !UNDERSTOOD.has(oid)) fields.unknownCritical.push(oid);
    const inner = readTlv(der, value.start, value.end);
    if (oid === OID_BASIC_CONSTRAINTS) {
      const bc = children(der, expectTag(inner, TAG.SEQUENCE, 'BasicConstraints'));
      let ca = false;
      let pathLength: number | null = null;
      for (const t of bc) {
        if (t.tag === TAG.BOOLEAN) ca = readBoolean(der, t);
        else pathLength = readSmallInt(der, t);
      }
      fields.basicConstraints = { ca, pathLength };
    } else if (oid === OID_KEY_USAGE) {
      fields.keyUsage = readNamedBits(der, inner);
    } else if (oid === OID_EXT_KEY_USAGE) {
      fields.extKeyUsage = children(der, expectTag(inner, TAG.SEQUENCE, 'ExtKeyUsage')).map((t) =>
        readOid(der, expectTag(t, TAG.OID, 'KeyPurposeId')),
      );
    } else if (oid === OID_SAN) {
      for (const name of children(der, expectTag(inner, TAG.SEQUENCE, 'GeneralNames'))) {
        if (name.tag === TAG_SAN_URI) fields.uris.push(ascii(der, name));
      }
    } else if (oid === OID_SKI) {
      fields.subjectKeyId = bytes(der, expectTag(inner, TAG.OCTET_STRING, 'SubjectKeyIdentifier'));
    } else if (oid === OID_AKI) {
      // keyIdentifier is [0] IMPLICIT OCTET STRING; the issuer/serial form is not used for chaining here.
      const keyId = children(der, expectTag(inner, TAG.SEQUENCE, 'AuthorityKeyIdentifier')).find((t) => t.tag === 0x80);
      fields.authorityKeyId = keyId ? bytes(der, keyId) : null;
    }
  }
  return fields;
}

function fail(what: string): Tlv {
  throw new DerError(`missing ${what}`);
}

/** IA5String content; a byte ≥ 0x80 is kept as U+FFFD so it can never look like a valid SPIFFE ID. */
function ascii(der: Uint8Array, t: Tlv): string {
  let s = '';
  for (let i = t.start; i < t.end; i++) {
    const b = der[i]!;
    s += b < 0x80 ? String.fromCharCode(b) : '\ufffd';
  }
  return s;
}

/** Parses every certificate in a PEM string. */
export function parsePemCertificates(pem: string): CertInfo[] {
  return pemToDers(pem).map(parseCertificate);
}

/** True when `cert` may sign certificates: cA=true and, if keyUsage is present, keyCertSign. */
export function isSigningCa(cert: CertInfo): boolean {
  if (cert.basicConstraints?.ca !== true) return false;
  return cert.keyUsage === null || (cert.keyUsage & KEY_USAGE.keyCertSign) !== 0;
}

/**
 * True when `issuer` is named as `child`'s issuer: the issuer Name bytes equal the candidate's subject Name bytes,
 * and, when both carry key identifiers, they match. Kept apart from the signature check so the caller can tell
 * "not this issuer" from "forged signature".
 */
export function namesIssuer(child: CertInfo, issuer: CertInfo): boolean {
  if (!child.issuerName.equals(issuer.subjectName)) return false;
  if (child.authorityKeyId && issuer.subjectKeyId && !child.authorityKeyId.equals(issuer.subjectKeyId)) return false;
  return true;
}

/** True when `issuer`'s key verifies `child`'s signature over its TBS bytes. Never throws. */
export function signatureVerifies(child: CertInfo, issuer: CertInfo): boolean {
  try {
    const key = issuer.publicKey();
    if (child.signatureAlgorithm === OID_RSA_PSS) return new NodeX509(child.der).verify(key);
    const alg = SIGNATURE_ALGORITHMS.get(child.signatureAlgorithm);
    if (!alg) return false;
    if (alg.kind === 'ecdsa') {
      if (key.asymmetricKeyType !== 'ec') return false;
      return verify(alg.hash, child.tbs, { key, dsaEncoding: 'der' }, child.signature);
    }
    if (alg.kind === 'rsa') {
      if (key.asymmetricKeyType !== 'rsa') return false;
      return verify(alg.hash, child.tbs, { key, padding: constants.RSA_PKCS1_PADDING }, child.signature);
    }
    if (key.asymmetricKeyType !== 'ed25519' && key.asymmetricKeyType !== 'ed448') return false;
    return verify(null, child.tbs, key, child.signature);
  } catch {
    return false;
  }
}
