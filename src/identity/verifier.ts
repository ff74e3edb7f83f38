import { MeshAuthzError } from '../errors.js';
import type { EndUser, PeerIdentity } from '../policy/types.js';
import { CredentialCache } from './credential-cache.js';
import type { JwtResult, JwtVerifier } from './jwt.js';
import type { IdentityOptions } from './options.js';
import { tryParseSpiffeId } from './spiffe-id.js';
import type { TrustBundleSet } from './trust-bundles.js';
import {
  IdentityError,
  type IdentityErrorCode,
  type IdentityInput,
  type IdentityOutcome,
  type IdentityVerifier,
  isPromise,
} from './types.js';
import { type VerifiedSvid, verifyX509SvidDetailed } from './x509-svid.js';
import { parseXfcc, selectTrustedElement, XfccError } from './xfcc.js';

/** Configuration that contradicts itself. Thrown at start, never per request. */
export class IdentityConfigError extends MeshAuthzError<'identity_config'> {
  override readonly name = 'IdentityConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('identity_config', message, options);
  }
}

/**
 * Rejects options that contradict themselves (IdentityConfigError). Called once at start. The config schema refuses
 * the same contradictions with the file's line; this keeps the library fail-closed for any other caller.
 */
export function validateIdentityOptions(config: IdentityOptions): void {
  const sources = config.peer.sources;
  if (new Set(sources).size !== sources.length)
    throw new IdentityConfigError('identity.peer.sources lists a source twice');
  if (sources.includes('principal') && !config.peer.trustEnvoyPrincipal) {
    throw new IdentityConfigError(
      'identity.peer.sources has "principal" but trustEnvoyPrincipal is false: set it only when Envoy verifies peers with SPIFFE validation',
    );
  }
}

/** How long an identity proven by a per-request credential (Envoy principal, XFCC) may be cached by others. */
const PER_REQUEST_TTL_MS = 60_000;
const XFCC_HEADER = 'x-forwarded-client-cert';

/**
 * Peer sources are tried in the configured order; the first that PRESENTS a credential decides (valid → the peer,
 * invalid → UNAUTHENTICATED); a source with nothing to present passes to the next. No credential at all is
 * anonymous: policies decide. The certificate path and cached tokens are synchronous; only a first-sight JWT awaits.
 */
export class DefaultIdentityVerifier implements IdentityVerifier {
  private readonly peers: CredentialCache<VerifiedSvid>;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly config: IdentityOptions,
    readonly bundles: TrustBundleSet,
    private readonly jwt: JwtVerifier,
    maxCached: number,
  ) {
    this.peers = new CredentialCache(maxCached);
    // A bundle change may revoke a root or JWT key: every cached verdict is dropped, never trusted past a change.
    this.unsubscribe = bundles.onChange(() => {
      this.peers.clear();
      jwt.clearCache();
    });
  }

  verify(input: IdentityInput): IdentityOutcome | Promise<IdentityOutcome> {
    let peer: PeerIdentity | null;
    let pending: JwtResult | Promise<JwtResult>;
    try {
      peer = this.verifyPeer(input);
      pending = this.jwt.verify(input.headers, input.filterMetadata, input.now);
    } catch (err) {
      return failure(err);
    }
    if (isPromise(pending)) return pending.then((r) => combine(peer, r), failure);
    return combine(peer, pending);
  }

  close(): void {
    this.unsubscribe();
    this.jwt.close();
    this.peers.clear();
  }

  private verifyPeer(input: IdentityInput): PeerIdentity | null {
    for (const source of this.config.peer.sources) {
      if (source === 'certificate') {
        if (input.certificate !== '') return this.fromCertificate(input.certificate, input.now);
      } else if (source === 'principal') {
        if (input.principal !== '') return fromPrincipal(input.principal, input.now);
      } else {
        const header = input.headers[XFCC_HEADER];
        if (header !== undefined && header !== '') return this.fromXfcc(header, input.now);
      }
    }
    return null;
  }

  /**
   * The hot path. A hit is the certificate exactly as Envoy sent it: no decoding, no parsing and no hashing of the
   * certificate (the benchmark showed SHA-256 of the ~1.3 KB string costing as much as everything else together);
   * {@link CredentialCache} finds it without hashing the whole string and confirms it by comparing, so it cannot
   * collide. The entry holds the verdict and its validity window; `credentialId` is the DER's SHA-256, computed
   * once at first sight.
   */
  private fromCertificate(encoded: string, now: number): PeerIdentity {
    const hit = this.peers.get(encoded);
    if (hit && hit.validFrom <= now && now <= hit.validUntil) return hit.peer;
    let pem: string;
    try {
      pem = decodeURIComponent(encoded);
    } catch (err) {
      throw new IdentityError('svid_malformed', 'the peer certificate is not valid URL-encoded PEM', { cause: err });
    }
    const svid = verifyX509SvidDetailed(pem, this.bundles, now);
    this.peers.set(encoded, svid);
    return svid.peer;
  }

  private fromXfcc(header: string, now: number): PeerIdentity | null {
    let uri: readonly string[];
    try {
      uri = selectTrustedElement(parseXfcc(header), this.config.peer.xfcc.trust).uri;
    } catch (err) {
      if (err instanceof XfccError) throw new IdentityError(err.code, err.message, { cause: err });
      throw err;
    }
    // The proxy verified a client certificate with no URI SAN: nothing SPIFFE to believe; anonymous.
    if (uri.length === 0) return null;
    if (uri.length > 1) throw new IdentityError('svid_multiple_uri_sans', 'the trusted XFCC element has several URIs');
    return spiffePeer(
      uri[0]!,
      'svid_invalid_spiffe_id',
      'the trusted XFCC element URI is not a workload SPIFFE ID',
      now,
      'xfcc',
    );
  }
}

function fromPrincipal(principal: string, now: number): PeerIdentity {
  return spiffePeer(
    principal,
    'principal_invalid',
    'the Envoy source principal is not a workload SPIFFE ID',
    now,
    'principal',
  );
}

function spiffePeer(raw: string, code: IdentityErrorCode, message: string, now: number, kind: string): PeerIdentity {
  const id = tryParseSpiffeId(raw);
  if (id === null || id.path === '') throw new IdentityError(code, message);
  const spiffeId = id.toString();
  return {
    spiffeId,
    trustDomain: id.trustDomain,
    namespace: id.namespace,
    serviceAccount: id.serviceAccount,
    expiresAt: now + PER_REQUEST_TTL_MS,
    credentialId: `${kind}:${spiffeId}`,
  };
}

/** A JWT-SVID names the peer only when no transport credential did (mTLS is the stronger proof). */
function combine(peer: PeerIdentity | null, jwt: JwtResult): IdentityOutcome {
  const user: EndUser | null = jwt.user;
  return { ok: true, peer: peer ?? jwt.svidPeer, user };
}

function failure(err: unknown): IdentityOutcome {
  if (err instanceof IdentityError) return { ok: false, error: err };
  throw err;
}
