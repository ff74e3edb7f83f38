/**
 * `identity/`: who is calling (the workload, by SPIFFE) and on whose behalf (the end user, by JWT).
 *
 * A pure library: no gRPC, Envoy, logging, file or network I/O. Key material reaches it from `sources/` (JWKS
 * files and endpoints, trust-bundle files and endpoints, and `createIdentityVerifier`, which assembles it all).
 *
 * - {@link parseSpiffeId} / {@link tryParseSpiffeId}: the SPIFFE-ID grammar on the raw string, a specific
 *   {@link SpiffeIdError} code per violation.
 * - {@link TrustBundleSet}: per-trust-domain bundles, never pooled, replaced atomically when their sources change.
 * - {@link verifyX509Svid}: every X.509-SVID leaf rule and RFC 5280 path building to the leaf's own domain's roots.
 * - {@link parseXfcc} / {@link selectTrustedElement}: strict XFCC and the `last` / `only` trust choice.
 * - {@link JwtVerifier}: end-user JWTs per issuer and JWT-SVIDs, via jose.
 * - {@link IdentityOptions}: what the phase is set up with (`sources/identity.ts` maps the config file to it).
 * - {@link DefaultIdentityVerifier}: all of it behind the {@link IdentityVerifier} contract, with caches of verified
 *   certificates (by fingerprint, until notAfter) and tokens (by hash, until exp).
 */
export { BundleError, type BundleErrorCode, bundleFromPem, parseSpiffeBundle, type TrustBundle } from './bundle.js';
export { type CertInfo, CertificateParseError, parseCertificate, parsePemCertificates } from './certificate.js';
export { type JwksProvider, toJwks } from './jwks.js';
export { type JwtAuthoritySource, type JwtResult, JwtVerifier, type JwtVerifierOptions } from './jwt.js';
export { bearerChallenge, readGroups } from './jwt-support.js';
export {
  DEFAULT_GROUPS_CLAIMS,
  type IdentityOptions,
  type IssuerOptions,
  type JwtOptions,
  type JwtSvidOptions,
  type PeerOptions,
  type PeerSource,
  type TokenHeader,
} from './options.js';
export {
  parseSpiffeId,
  parseTrustDomain,
  SpiffeId,
  SpiffeIdError,
  type SpiffeIdErrorCode,
  tryParseSpiffeId,
} from './spiffe-id.js';
export { TrustBundleSet } from './trust-bundles.js';
export {
  IdentityError,
  type IdentityErrorCode,
  type IdentityInput,
  type IdentityOutcome,
  type IdentityVerifier,
} from './types.js';
export { DefaultIdentityVerifier, IdentityConfigError, validateIdentityOptions } from './verifier.js';
export { type VerifiedSvid, verifyX509Svid, verifyX509SvidDetailed, type X509AuthoritySource } from './x509-svid.js';
export { parseXfcc, selectTrustedElement, type XfccElement, XfccError, type XfccTrust } from './xfcc.js';
