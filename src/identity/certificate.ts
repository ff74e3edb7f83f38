import { createHash, X509Certificate as NodeX509 } from 'node:crypto';
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
 * One parsed X.509 certificate: the facts the SVID rules read, decoded once. OpenSSL (node:crypto) parses the whole
 * certificate and checks signatures (synchronous and native, so verification never needs a Promise); the
 * extensions and their criticality are read by our small DER reader because node does not expose them.
 */
export interface CertInfo {
  readonly der: Buffer;
  /** Lowercase hex SHA-256 of the DER. */
  readonly fingerprint: string;
  readonly node: NodeX509;
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
/** GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String. */
const TAG_SAN_URI = 0x86;
/**
 * Extensions whose meaning we enforce (or that carry no constraint). nameConstraints (2.5.29.30) and
 * policyConstraints are deliberately absent: we do not enforce them, so a certificate that marks them critical is
 * refused rather than accepted with the constraint silently ignored.
 */
const UNDERSTOOD = new Set([
  OID_BASIC_CONSTRAINTS,
  OID_KEY_USAGE,
  OID_EXT_KEY_USAGE,
  OID_SAN,
  '2.5.29.14', // subjectKeyIdentifier
  '2.5.29.35', // authorityKeyIdentifier
]);

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
  let node: NodeX509;
  try {
    node = new NodeX509(der);
  } catch (err) {
    throw new CertificateParseError('the certificate is not valid DER', { cause: err });
  }
  try {
    return { der, fingerprint: createHash('sha256').update(der).digest('hex'), node, ...readFields(der) };
  } catch (err) {
    if (err instanceof DerError || err instanceof CertificateParseError) {
      throw new CertificateParseError(`the certificate is malformed: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

type Fields = Omit<CertInfo, 'der' | 'fingerprint' | 'node'>;

function readFields(der: Uint8Array): Fields {
  const cert = expectTag(readTlv(der, 0, der.length), TAG.SEQUENCE, 'Certificate');
  if (cert.end !== der.length) throw new DerError('trailing bytes after the certificate');
  const tbs = children(der, expectTag(children(der, cert)[0], TAG.SEQUENCE, 'TBSCertificate'));
  // version [0] is optional; then serial, signature, issuer, validity, subject, spki, [1], [2], [3] extensions.
  let i = tbs[0]?.tag === 0xa0 ? 1 : 0;
  expectTag(tbs[i++], TAG.INTEGER, 'serialNumber');
  i += 2; // signature algorithm, issuer
  const validity = children(der, expectTag(tbs[i++], TAG.SEQUENCE, 'Validity'));
  const notBefore = readTime(der, validity[0] ?? fail('notBefore'));
  const notAfter = readTime(der, validity[1] ?? fail('notAfter'));
  const fields: { -readonly [K in keyof Fields]: Fields[K] } & { unknownCritical: string[]; uris: string[] } = {
    notBefore,
    notAfter,
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
 * True when `issuer`'s subject (and key identifiers) match `child`'s issuer, per OpenSSL's check. Kept apart from
 * the signature check so the caller can tell "not this issuer" from "forged signature".
 */
export function namesIssuer(child: CertInfo, issuer: CertInfo): boolean {
  return child.node.checkIssued(issuer.node);
}

export function signatureVerifies(child: CertInfo, issuer: CertInfo): boolean {
  try {
    return child.node.verify(issuer.node.publicKey);
  } catch {
    return false;
  }
}
