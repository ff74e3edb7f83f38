import { MeshAuthzError } from '../errors.js';
import type { EndUser, PeerIdentity } from '../policy/types.js';

/**
 * What the identity phase reads, as plain values (the authz layer extracts them from the wire message).
 * `identity/` is a pure library: no gRPC or Envoy types here.
 */
export interface IdentityInput {
  /** Envoy's `source.certificate`: URL-encoded PEM of the peer leaf, or ''. */
  readonly certificate: string;
  /** Envoy's `source.principal`, or ''. */
  readonly principal: string;
  /** Request headers, lowercase names (XFCC and bearer tokens come from here). */
  readonly headers: Readonly<Record<string, string>>;
  /** `metadata_context.filter_metadata` as plain JSON (claims from Envoy's jwt_authn filter). */
  readonly filterMetadata: Readonly<Record<string, unknown>>;
  /** The request's time, ms since epoch: validity is checked at this instant. */
  readonly now: number;
}

export type IdentityErrorCode =
  | 'svid_malformed'
  | 'svid_expired'
  | 'svid_not_yet_valid'
  | 'svid_untrusted_domain'
  | 'svid_bad_chain'
  | 'svid_bad_signature'
  | 'svid_multiple_uri_sans'
  | 'svid_no_uri_san'
  | 'svid_invalid_spiffe_id'
  | 'svid_not_leaf'
  | 'svid_bad_key_usage'
  | 'principal_invalid'
  | 'xfcc_malformed'
  | 'xfcc_untrusted'
  | 'jwt_malformed'
  | 'jwt_bad_signature'
  | 'jwt_expired'
  | 'jwt_not_yet_valid'
  | 'jwt_audience'
  | 'jwt_issuer'
  | 'jwt_alg_not_allowed'
  | 'jwt_unknown_kid'
  | 'jwt_claims'
  | 'jwks_unavailable';

/** A presented credential failed verification. The phase answers UNAUTHENTICATED (HTTP 401). */
export class IdentityError extends MeshAuthzError<IdentityErrorCode> {
  override readonly name = 'IdentityError';
  constructor(
    code: IdentityErrorCode,
    /** Safe to return to the caller and to log: never contains a token or a certificate. */
    readonly safeMessage: string,
    options?: { cause?: unknown; wwwAuthenticate?: string },
  ) {
    super(code, safeMessage, { cause: options?.cause });
    this.wwwAuthenticate = options?.wwwAuthenticate ?? null;
  }
  /** For bearer-token failures, the `WWW-Authenticate` header value (RFC 6750). */
  readonly wwwAuthenticate: string | null;
}

export type IdentityOutcome =
  | { readonly ok: true; readonly peer: PeerIdentity | null; readonly user: EndUser | null }
  | { readonly ok: false; readonly error: IdentityError };

/** Turns the credentials of one request into verified identities. */
export interface IdentityVerifier {
  verify(input: IdentityInput): Promise<IdentityOutcome> | IdentityOutcome;
}

/**
 * Tells a Promise from a value, for the results that are synchronous when nothing needs waiting for (a verifier's
 * cached verdict, and the Check pipeline built on it).
 */
export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown }).then === 'function';
}
