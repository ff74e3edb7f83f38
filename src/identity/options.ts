/**
 * What the identity phase is set up with, as this library sees it: plain options, no config-file types. The
 * config file's `identity` section is mapped to these in `sources/identity.ts`; where the key material comes from
 * (trust-bundle files and endpoints, JWKS files and URLs) stays there too, since reading it is I/O.
 */

import type { XfccTrust } from './xfcc.js';

/** Where a peer credential can come from, tried in the configured order. */
export type PeerSource = 'certificate' | 'principal' | 'xfcc';

export interface PeerOptions {
  /** The order in which peer credentials are tried; the first that presents one decides. */
  readonly sources: readonly PeerSource[];
  /** Envoy's `principal` is only read when Envoy itself verified the peer with SPIFFE validation. */
  readonly trustEnvoyPrincipal: boolean;
  /** How XFCC is read when `sources` lists `xfcc`. */
  readonly xfcc: {
    /** `last` for APPEND_FORWARD (Istio's default), `only` for SANITIZE_SET. */
    readonly trust: XfccTrust;
  };
}

/** A header a bearer token is read from, and the prefix before the token (`Bearer `). */
export interface TokenHeader {
  readonly name: string;
  readonly prefix: string;
}

/** One end-user token issuer. Its keys are opened by the caller (`JwtVerifierOptions.openJwks`). */
export interface IssuerOptions {
  readonly issuer: string;
  readonly audiences: readonly string[];
  /** The algorithms accepted; never taken from the token. */
  readonly algorithms: readonly string[];
  readonly leewaySeconds: number;
  readonly fromHeaders: readonly TokenHeader[];
  /** Claims whose values are the end user's groups. */
  readonly groupsClaims: readonly string[];
}

/** JWT-SVIDs: bearer tokens whose `sub` is a SPIFFE ID, verified with that trust domain's jwt-svid keys. */
export interface JwtSvidOptions {
  readonly audiences: readonly string[];
  readonly fromHeaders: readonly TokenHeader[];
  readonly leewaySeconds: number;
}

export interface JwtOptions {
  readonly issuers: readonly IssuerOptions[];
  readonly jwtSvid?: JwtSvidOptions;
  /** Claims Envoy's jwt_authn filter already verified, read from `metadata_context` under `namespace`. */
  readonly envoyJwtAuthn: { readonly enabled: boolean; readonly namespace: string };
}

export interface IdentityOptions {
  readonly peer: PeerOptions;
  readonly jwt: JwtOptions;
}

/**
 * The claim end-user groups are read from when nothing else is said: the config file's default for an issuer, and
 * what a token Envoy verified for an issuer not configured here is read with.
 */
export const DEFAULT_GROUPS_CLAIMS: readonly string[] = Object.freeze(['groups']);
