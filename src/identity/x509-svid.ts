import type { PeerIdentity } from '../policy/types.js';
import {
  type CertInfo,
  CertificateParseError,
  EKU_ANY,
  EKU_CLIENT_AUTH,
  EKU_SERVER_AUTH,
  isSigningCa,
  KEY_USAGE,
  namesIssuer,
  parsePemCertificates,
  signatureVerifies,
} from './certificate.js';
import { parseSpiffeId, SpiffeIdError } from './spiffe-id.js';
import { IdentityError, type IdentityErrorCode } from './types.js';

/** Where the verifier finds X.509 authorities: per trust domain, never a shared pool. */
export interface X509AuthoritySource {
  /** The trust domain's X.509 authorities, or null when the domain has no bundle (untrusted). */
  x509Roots(trustDomain: string): readonly CertInfo[] | null;
}

/** A verified X.509-SVID with the window in which the verdict holds (for caches). */
export interface VerifiedSvid {
  readonly peer: PeerIdentity;
  /** Latest notBefore along the chain: before this instant the verdict does not hold. */
  readonly validFrom: number;
  /** Earliest notAfter along the chain (= peer.expiresAt). */
  readonly validUntil: number;
}

/** Longest chain we build (leaf + intermediates + anchor); stops a hostile chain from costing much. */
const MAX_DEPTH = 6;
/** Most certificates a peer may present (leaf + untrusted intermediates). Envoy sends one. */
const MAX_PRESENTED = 8;
/**
 * Most signature checks one verification may spend. Depth-first search over same-named candidates could otherwise
 * be made exponential by a crafted set of intermediates; a real chain needs one check per link.
 */
const MAX_SIGNATURE_CHECKS = 24;

function fail(code: IdentityErrorCode, message: string, cause?: unknown): never {
  throw new IdentityError(code, message, cause === undefined ? undefined : { cause });
}

/**
 * Verifies a PEM X.509-SVID (the leaf first; any further certificates are untrusted intermediates, e.g. XFCC
 * `Chain`) against the bundle of the leaf's OWN trust domain, at the instant `now`. Throws {@link IdentityError}.
 * Envoy's `include_peer_certificate` sends the leaf only, so intermediates normally come from the bundle.
 */
export function verifyX509Svid(leafPem: string, bundles: X509AuthoritySource, now: number): PeerIdentity {
  return verifyX509SvidDetailed(leafPem, bundles, now).peer;
}

export function verifyX509SvidDetailed(leafPem: string, bundles: X509AuthoritySource, now: number): VerifiedSvid {
  let certs: CertInfo[];
  try {
    certs = parsePemCertificates(leafPem);
  } catch (err) {
    if (err instanceof CertificateParseError) fail('svid_malformed', 'the peer certificate could not be decoded', err);
    throw err;
  }
  const leaf = certs[0];
  if (leaf === undefined) fail('svid_malformed', 'no certificate was presented');
  if (certs.length > MAX_PRESENTED) fail('svid_malformed', 'too many certificates were presented');
  const id = checkLeaf(leaf);
  if (now < leaf.notBefore) fail('svid_not_yet_valid', 'the peer certificate is not yet valid');
  if (now > leaf.notAfter) fail('svid_expired', 'the peer certificate has expired');
  const anchors = bundles.x509Roots(id.trustDomain);
  if (anchors === null || anchors.length === 0) {
    fail('svid_untrusted_domain', `trust domain ${id.trustDomain} has no trust bundle`);
  }
  const chain = buildChain(leaf, anchors, certs.slice(1), now, id.trustDomain);
  let validFrom = leaf.notBefore;
  let validUntil = leaf.notAfter;
  for (const c of chain) {
    validFrom = Math.max(validFrom, c.notBefore);
    validUntil = Math.min(validUntil, c.notAfter);
  }
  return {
    peer: {
      spiffeId: id.toString(),
      trustDomain: id.trustDomain,
      namespace: id.namespace,
      serviceAccount: id.serviceAccount,
      expiresAt: validUntil,
      credentialId: leaf.fingerprint,
    },
    validFrom,
    validUntil,
  };
}

/** The leaf rules of the X.509-SVID standard. Returns the leaf's SPIFFE ID. */
function checkLeaf(leaf: CertInfo) {
  if (leaf.uris.length === 0) fail('svid_no_uri_san', 'the peer certificate has no URI SAN (no SPIFFE ID)');
  if (leaf.uris.length > 1) fail('svid_multiple_uri_sans', 'the peer certificate has more than one URI SAN');
  let id: ReturnType<typeof parseSpiffeId>;
  try {
    id = parseSpiffeId(leaf.uris[0]!);
  } catch (err) {
    if (!(err instanceof SpiffeIdError)) throw err;
    fail('svid_invalid_spiffe_id', `the URI SAN is not a valid SPIFFE ID (${err.code})`, err);
  }
  if (id.path === '') fail('svid_invalid_spiffe_id', 'a workload SPIFFE ID must have a path');
  if (leaf.basicConstraints?.ca === true) fail('svid_not_leaf', 'the peer certificate is a CA certificate');
  if (leaf.keyUsage === null) fail('svid_bad_key_usage', 'the peer certificate has no keyUsage extension');
  if ((leaf.keyUsage & KEY_USAGE.digitalSignature) === 0) {
    fail('svid_bad_key_usage', 'the peer certificate lacks the digitalSignature key usage');
  }
  if ((leaf.keyUsage & KEY_USAGE.keyCertSign) !== 0) {
    fail(
      'svid_bad_key_usage',
      'the peer certificate has the keyCertSign key usage (signing certificates are no leaves)',
    );
  }
  if ((leaf.keyUsage & KEY_USAGE.cRLSign) !== 0) {
    fail('svid_bad_key_usage', 'the peer certificate has the cRLSign key usage (signing certificates are no leaves)');
  }
  const eku = leaf.extKeyUsage;
  if (eku !== null && !eku.includes(EKU_ANY) && !(eku.includes(EKU_CLIENT_AUTH) && eku.includes(EKU_SERVER_AUTH))) {
    fail('svid_bad_key_usage', 'the peer certificate extendedKeyUsage lacks serverAuth and clientAuth');
  }
  if (leaf.unknownCritical.length > 0) {
    fail('svid_malformed', `the peer certificate has an unsupported critical extension ${leaf.unknownCritical[0]}`);
  }
  return id;
}

interface ChainFailure {
  code: IdentityErrorCode;
  message: string;
}

/**
 * RFC 5280-style path building from the leaf up to one of the trust domain's authorities. Every certificate on the
 * path must be valid at `now`; every issuer must be a signing CA; pathLenConstraint is honoured; authorities are
 * the trust anchors, intermediates must chain to one. Depth-first over candidate issuers, so a bad candidate with
 * a matching name cannot hide a good one. Returns the certificates above the leaf.
 */
function buildChain(
  leaf: CertInfo,
  anchors: readonly CertInfo[],
  intermediates: readonly CertInfo[],
  now: number,
  trustDomain: string,
): CertInfo[] {
  const state: { best: ChainFailure | null; budget: number } = { best: null, budget: MAX_SIGNATURE_CHECKS };
  const note = (f: ChainFailure) => {
    // Keep the first specific failure: a forged signature or an expired CA beats "no issuer found".
    if (state.best === null || state.best.code === 'svid_bad_chain') state.best = f;
  };
  const walk = (child: CertInfo, path: CertInfo[], depth: number): CertInfo[] | null => {
    if (depth >= MAX_DEPTH) {
      note({ code: 'svid_bad_chain', message: 'the certificate chain is too long' });
      return null;
    }
    const candidates = [
      ...anchors.map((c) => ({ c, anchor: true })),
      ...intermediates.map((c) => ({ c, anchor: false })),
    ];
    for (const { c, anchor } of candidates) {
      if (c === child || path.includes(c) || !namesIssuer(child, c)) continue;
      if (--state.budget < 0) {
        note({ code: 'svid_bad_chain', message: 'the certificate chain is too expensive to build' });
        return null;
      }
      if (!signatureVerifies(child, c)) {
        note({ code: 'svid_bad_signature', message: 'a certificate signature in the chain does not verify' });
        continue;
      }
      if (!isSigningCa(c)) {
        note({ code: 'svid_bad_chain', message: 'a certificate in the chain signs others but is not a CA' });
        continue;
      }
      if (c.unknownCritical.length > 0) {
        note({ code: 'svid_bad_chain', message: 'a CA in the chain has an unsupported critical extension' });
        continue;
      }
      if (now < c.notBefore || now > c.notAfter) {
        note({
          code: now > c.notAfter ? 'svid_expired' : 'svid_not_yet_valid',
          message: `a CA certificate in the chain is ${now > c.notAfter ? 'expired' : 'not yet valid'}`,
        });
        continue;
      }
      // pathLenConstraint: how many intermediates may follow this CA (the leaf does not count).
      const below = path.length;
      const limit = c.basicConstraints?.pathLength;
      if (limit !== null && limit !== undefined && below > limit) {
        note({ code: 'svid_bad_chain', message: 'the chain violates a CA pathLenConstraint' });
        continue;
      }
      const next = [...path, c];
      if (anchor) return next;
      const found = walk(c, next, depth + 1);
      if (found) return found;
    }
    return null;
  };
  const chain = walk(leaf, [], 1);
  if (chain) return chain;
  const failure: ChainFailure = state.best ?? {
    code: 'svid_bad_chain',
    message: `the peer certificate does not chain to a root of trust domain ${trustDomain}`,
  };
  return fail(failure.code, failure.message);
}
