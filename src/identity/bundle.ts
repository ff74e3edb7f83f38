import type { JWK } from 'jose';
import { MeshAuthzError } from '../errors.js';
import { type CertInfo, CertificateParseError, parseCertificate, parsePemCertificates } from './certificate.js';

/**
 * One trust domain's bundle: its X.509 authorities (trust anchors for X.509-SVIDs) and JWT authorities (keys for
 * JWT-SVIDs, by `kid`). A bundle document does not name its trust domain, so the domain is always stored beside it
 * and never inferred from the content.
 */
export interface TrustBundle {
  readonly trustDomain: string;
  readonly x509Authorities: readonly CertInfo[];
  readonly jwtAuthorities: ReadonlyMap<string, JWK>;
  /** `spiffe_sequence`, when the document had one. */
  readonly sequence: bigint | null;
  /** `spiffe_refresh_hint` in seconds, when the document had one. */
  readonly refreshHintSeconds: number | null;
}

export type BundleErrorCode = 'bundle_json' | 'bundle_keys' | 'bundle_x509' | 'bundle_jwt' | 'bundle_pem';

/** A bundle file or document could not be used. The last good bundle keeps serving. */
export class BundleError extends MeshAuthzError<BundleErrorCode> {
  override readonly name = 'BundleError';
  constructor(code: BundleErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

const JWT_KTYS = new Set(['EC', 'RSA', 'OKP']);

/**
 * A bundle from a PEM file of X.509 authorities (no JWT keys). A PEM with no certificate is refused, not read as an
 * empty (distrusting) bundle: an editor or `kubectl cp` truncates the file before writing it, and reading that moment
 * as "trust nobody" would reject every peer of the domain until the write lands. At start it is a configuration
 * error; on reload the last good bundle keeps serving. To distrust a domain on purpose, remove it from the config or
 * serve a SPIFFE bundle document with an empty `keys` list.
 */
export function bundleFromPem(trustDomain: string, pem: string): TrustBundle {
  let certs: CertInfo[];
  try {
    certs = parsePemCertificates(pem);
  } catch (err) {
    throw new BundleError('bundle_pem', `the PEM bundle for ${trustDomain} is malformed`, { cause: err });
  }
  if (certs.length === 0) {
    throw new BundleError('bundle_pem', `the PEM bundle for ${trustDomain} holds no certificate`);
  }
  return { trustDomain, x509Authorities: certs, jwtAuthorities: new Map(), sequence: null, refreshHintSeconds: null };
}

/**
 * A bundle from a SPIFFE bundle document (a JWK Set). Keys with an unknown `use` or `kty`, or no `use`, are skipped
 * as the standard says; a malformed `x509-svid` or `jwt-svid` entry fails the whole document, because accepting
 * part of a damaged bundle could silently drop an authority the operator relies on (or keep one they removed).
 */
export function parseSpiffeBundle(trustDomain: string, doc: unknown): TrustBundle {
  let value = doc;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (err) {
      throw new BundleError('bundle_json', `the SPIFFE bundle for ${trustDomain} is not JSON`, { cause: err });
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BundleError('bundle_json', `the SPIFFE bundle for ${trustDomain} is not a JSON object`);
  }
  const set = value as Record<string, unknown>;
  if (!Array.isArray(set.keys))
    throw new BundleError('bundle_keys', `the SPIFFE bundle for ${trustDomain} has no keys`);
  const x509Authorities: CertInfo[] = [];
  const jwtAuthorities = new Map<string, JWK>();
  for (const [i, raw] of set.keys.entries()) {
    if (typeof raw !== 'object' || raw === null) {
      throw new BundleError('bundle_keys', `key ${i} of the ${trustDomain} bundle is not an object`);
    }
    const key = raw as Record<string, unknown>;
    if (key.use === 'x509-svid') x509Authorities.push(readX509Key(trustDomain, i, key));
    else if (key.use === 'jwt-svid' && typeof key.kty === 'string' && JWT_KTYS.has(key.kty)) {
      const kid = key.kid;
      if (typeof kid !== 'string' || kid === '') {
        throw new BundleError('bundle_jwt', `jwt-svid key ${i} of the ${trustDomain} bundle has no kid`);
      }
      if ('d' in key || 'p' in key || 'k' in key) {
        throw new BundleError('bundle_jwt', `jwt-svid key ${i} of the ${trustDomain} bundle holds private material`);
      }
      if (jwtAuthorities.has(kid)) {
        throw new BundleError('bundle_jwt', `the ${trustDomain} bundle has two jwt-svid keys with the same kid`);
      }
      jwtAuthorities.set(kid, key as JWK);
    }
  }
  return {
    trustDomain,
    x509Authorities,
    jwtAuthorities,
    sequence: readSequence(trustDomain, set.spiffe_sequence),
    refreshHintSeconds: readHint(trustDomain, set.spiffe_refresh_hint),
  };
}

function readX509Key(trustDomain: string, i: number, key: Record<string, unknown>): CertInfo {
  const x5c = key.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0 || typeof x5c[0] !== 'string') {
    throw new BundleError('bundle_x509', `x509-svid key ${i} of the ${trustDomain} bundle has no x5c`);
  }
  // The standard says the first x5c value is the authority; later values (if any) are not used.
  const b64 = x5c[0];
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new BundleError('bundle_x509', `x509-svid key ${i} of the ${trustDomain} bundle is not base64`);
  }
  try {
    return parseCertificate(Buffer.from(b64, 'base64'));
  } catch (err) {
    if (!(err instanceof CertificateParseError)) throw err;
    throw new BundleError('bundle_x509', `x509-svid key ${i} of the ${trustDomain} bundle is not a certificate`, {
      cause: err,
    });
  }
}

function readSequence(trustDomain: string, v: unknown): bigint | null {
  if (v === undefined) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new BundleError('bundle_json', `spiffe_sequence of the ${trustDomain} bundle is not a non-negative integer`);
  }
  return BigInt(v);
}

function readHint(trustDomain: string, v: unknown): number | null {
  if (v === undefined) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new BundleError('bundle_json', `spiffe_refresh_hint of the ${trustDomain} bundle is not a positive number`);
  }
  return v;
}

/** Unites several bundles of the SAME trust domain (e.g. a PEM file and an endpoint). Never across domains. */
export function mergeBundles(trustDomain: string, parts: readonly TrustBundle[]): TrustBundle {
  const seen = new Set<string>();
  const x509Authorities: CertInfo[] = [];
  const jwtAuthorities = new Map<string, JWK>();
  let sequence: bigint | null = null;
  let refreshHintSeconds: number | null = null;
  for (const part of parts) {
    if (part.trustDomain !== trustDomain) throw new Error('bundles of different trust domains are never merged');
    for (const c of part.x509Authorities) {
      if (!seen.has(c.fingerprint)) {
        seen.add(c.fingerprint);
        x509Authorities.push(c);
      }
    }
    for (const [kid, jwk] of part.jwtAuthorities) if (!jwtAuthorities.has(kid)) jwtAuthorities.set(kid, jwk);
    if (part.sequence !== null && (sequence === null || part.sequence > sequence)) sequence = part.sequence;
    if (part.refreshHintSeconds !== null) refreshHintSeconds = part.refreshHintSeconds;
  }
  return { trustDomain, x509Authorities, jwtAuthorities, sequence, refreshHintSeconds };
}
