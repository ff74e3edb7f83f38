import type { IdentityConfig } from '../config/schema.js';
import { JwtVerifier } from '../identity/jwt.js';
import type { IdentityOptions } from '../identity/options.js';
import type { IdentityVerifier } from '../identity/types.js';
import { DefaultIdentityVerifier, validateIdentityOptions } from '../identity/verifier.js';
import { openJwks } from './jwks.js';
import { TrustBundleLoader } from './trust-bundles.js';

export interface IdentityVerifierOptions {
  /** Resolves a path from the config file (relative to the file's folder). */
  resolvePath(p: string): string;
  /** For JWKS URLs and bundle endpoints. Default: the global fetch. */
  fetch?: typeof fetch;
  /** Watch bundle and JWKS files. Default true. */
  watch?: boolean;
  pollIntervalMs?: number;
  /** Bound on each verified-identity cache. Default 10 000. */
  maxCachedCredentials?: number;
  /** A background reload/refresh failed; the last good material keeps serving. (Logging is the caller's job.) */
  onError?: (err: Error, where: string) => void;
}

/** An {@link IdentityVerifier} that owns watchers and timers: close it on shutdown. */
export interface ManagedIdentityVerifier extends IdentityVerifier {
  /** The trust bundles' loader: `generation`, `reload()`, `refreshEndpoints()`. */
  readonly bundles: TrustBundleLoader;
  close(): void;
}

/**
 * Builds the identity phase from config: trust bundles, peer sources in the configured order, and JWT issuers.
 * Rejects (IdentityConfigError, BundleError, ...) when the configuration cannot be honoured.
 */
export async function createIdentityVerifier(
  config: IdentityConfig,
  options: IdentityVerifierOptions,
): Promise<ManagedIdentityVerifier> {
  const identity = identityOptions(config);
  validateIdentityOptions(identity);
  const issuers = new Map(config.jwt.issuers.map((i) => [i.issuer, i]));
  const onError = options.onError ?? (() => {});
  const bundles = await TrustBundleLoader.open(config.trustBundles, {
    resolvePath: options.resolvePath,
    fetch: options.fetch,
    watch: options.watch,
    pollIntervalMs: options.pollIntervalMs,
    onError: (err, td) => onError(err, `trust bundle ${td}`),
  });
  try {
    const jwt = await JwtVerifier.create(identity.jwt, {
      // Issuer names are unique (JwtVerifier.create refuses a repeat), so the name finds the issuer's key location.
      openJwks: (issuer, report) => openJwks(issuers.get(issuer)!, options, report),
      bundles: bundles.set,
      maxCachedTokens: options.maxCachedCredentials,
      onError,
    });
    const verifier = new DefaultIdentityVerifier(identity, bundles.set, jwt, options.maxCachedCredentials ?? 10_000);
    return {
      bundles,
      verify: (input) => verifier.verify(input),
      close: () => {
        verifier.close();
        bundles.close();
        bundles.set.close();
      },
    };
  } catch (err) {
    bundles.close();
    throw err;
  }
}

/**
 * The config file's `identity` section as the identity library's options: the peer sources and the JWT settings.
 * Where key material lives (trust bundles, JWKS files and URLs, refresh cooldowns) is this folder's business and is
 * not passed on.
 */
export function identityOptions(config: IdentityConfig): IdentityOptions {
  const { peer, jwt } = config;
  return {
    peer: { sources: peer.sources, trustEnvoyPrincipal: peer.trustEnvoyPrincipal, xfcc: { trust: peer.xfcc.trust } },
    jwt: {
      issuers: jwt.issuers.map((i) => ({
        issuer: i.issuer,
        audiences: i.audiences,
        algorithms: i.algorithms,
        leewaySeconds: i.leewaySeconds,
        fromHeaders: i.fromHeaders,
        groupsClaims: i.groupsClaims,
      })),
      ...(jwt.jwtSvid === undefined ? {} : { jwtSvid: jwt.jwtSvid }),
      envoyJwtAuthn: jwt.envoyJwtAuthn,
    },
  };
}
