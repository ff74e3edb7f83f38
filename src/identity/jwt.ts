import { createHash } from 'node:crypto';
import {
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  type JWSHeaderParameters,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import type { EndUser, PeerIdentity } from '../policy/types.js';
import { CredentialCache } from './credential-cache.js';
import type { JwksProvider, ResolvedKey } from './jwks.js';
import {
  extractToken,
  type FoundToken,
  mapJoseError,
  readGroups,
  type TokenSource,
  tokenError,
} from './jwt-support.js';
import { DEFAULT_GROUPS_CLAIMS, type IssuerOptions, type JwtOptions } from './options.js';
import { tryParseSpiffeId } from './spiffe-id.js';

/** What the JWT part of the identity phase proved: an end user, and/or a workload by JWT-SVID. */
export interface JwtResult {
  readonly user: EndUser | null;
  readonly svidPeer: PeerIdentity | null;
}

const NONE: JwtResult = Object.freeze({ user: null, svidPeer: null });

/** The JWT-SVID standard's algorithms: asymmetric only, never `none` or HS*. */
const SVID_ALGS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'];

/** The JWT-SVID keys of a trust domain (the bundle set implements this). */
export interface JwtAuthoritySource {
  jwtKey(trustDomain: string, kid: string): JWK | null;
  get(trustDomain: string): unknown;
}

export interface JwtVerifierOptions {
  /** Opens the named issuer's key source (`sources/jwks.ts`: a JWKS file or endpoint); this library does no I/O. */
  readonly openJwks: (issuer: string, onError: (err: Error) => void) => Promise<JwksProvider>;
  readonly bundles: JwtAuthoritySource;
  readonly maxCachedTokens?: number;
  readonly onError?: (err: Error, where: string) => void;
}

interface CachedToken {
  readonly result: JwtResult;
  /** Seconds since epoch, leeway applied: the verdict holds for notBefore ≤ now < notAfter. */
  readonly notBefore: number;
  readonly notAfter: number;
}

interface Issuer {
  readonly config: IssuerOptions;
  readonly jwks: JwksProvider;
}

/**
 * Verifies end-user JWTs (per configured issuer: its JWKS, audiences, algorithm allow-list, leeway, headers and
 * groups claims) and JWT-SVIDs (against the `sub` trust domain's jwt-svid keys), with jose. The algorithm list
 * always comes from configuration, never from the token. Verified tokens are cached (a {@link CredentialCache})
 * until they expire, so a repeat token is answered synchronously.
 */
export class JwtVerifier {
  /** Verdicts by token, scoped by the header it came in. */
  private readonly cache: CredentialCache<CachedToken>;
  private readonly sources: readonly TokenSource[];
  private readonly svidKeys = new WeakMap<JWK, Map<string, Promise<ResolvedKey>>>();

  private constructor(
    private readonly config: JwtOptions,
    private readonly issuers: ReadonlyMap<string, Issuer>,
    private readonly bundles: JwtAuthoritySource,
    maxCachedTokens: number,
  ) {
    this.cache = new CredentialCache(maxCachedTokens);
    const all = [...config.issuers.flatMap((i) => i.fromHeaders), ...(config.jwtSvid?.fromHeaders ?? [])];
    const seen = new Set<string>();
    this.sources = all
      .map((s) => ({ name: s.name.toLowerCase(), prefix: s.prefix }))
      .filter((s) => !seen.has(`${s.name}\n${s.prefix}`) && seen.add(`${s.name}\n${s.prefix}`));
    for (const issuer of issuers.values()) issuer.jwks.onChange(() => this.clearCache());
  }

  static async create(config: JwtOptions, options: JwtVerifierOptions): Promise<JwtVerifier> {
    const issuers = new Map<string, Issuer>();
    for (const ic of config.issuers) {
      if (issuers.has(ic.issuer)) throw new Error(`issuer ${ic.issuer} is configured twice`);
      const onError = (err: Error) => options.onError?.(err, `jwks of ${ic.issuer}`);
      const jwks = await options.openJwks(ic.issuer, onError);
      issuers.set(ic.issuer, { config: ic, jwks });
    }
    return new JwtVerifier(config, issuers, options.bundles, options.maxCachedTokens ?? 10_000);
  }

  /** Drops every cached verdict (a JWKS or bundle changed: a removed key must stop validating). */
  clearCache(): void {
    this.cache.clear();
  }

  close(): void {
    for (const issuer of this.issuers.values()) issuer.jwks.close();
    this.cache.clear();
  }

  /**
   * Verifies the request's bearer token, if any. Returns synchronously when there is none or it is cached; throws
   * (or rejects with) an {@link IdentityError} carrying a WWW-Authenticate challenge when a token is invalid.
   */
  verify(
    headers: Readonly<Record<string, string>>,
    filterMetadata: Readonly<Record<string, unknown>>,
    now: number,
  ): JwtResult | Promise<JwtResult> {
    const found = this.sources.length === 0 ? null : extractToken(headers, this.sources);
    if (found === null) return this.fromEnvoyMetadata(filterMetadata, now);
    const hit = this.cache.get(found.token, found.header);
    const nowS = Math.floor(now / 1000);
    if (hit && hit.notBefore <= nowS && nowS < hit.notAfter) return hit.result;
    return this.verifyFresh(found, now);
  }

  private async verifyFresh(found: FoundToken, now: number): Promise<JwtResult> {
    const epoch = this.cache.epoch;
    let header: JWSHeaderParameters;
    let claims: JWTPayload;
    try {
      header = decodeProtectedHeader(found.token);
      claims = decodeJwt(found.token);
    } catch (err) {
      throw tokenError('jwt_malformed', 'the token is not a well-formed JWT', err);
    }
    const issuer = typeof claims.iss === 'string' ? this.issuers.get(claims.iss) : undefined;
    if (issuer) return this.verifyUser(issuer, found, header, now, epoch);
    if (this.config.jwtSvid && typeof claims.sub === 'string' && claims.sub.startsWith('spiffe://')) {
      return this.verifySvid(found, header, claims.sub, now, epoch);
    }
    throw tokenError('jwt_issuer', 'the token issuer is not configured');
  }

  private async verifyUser(
    issuer: Issuer,
    found: FoundToken,
    header: JWSHeaderParameters,
    now: number,
    epoch: number,
  ): Promise<JwtResult> {
    const ic = issuer.config;
    if (!ic.fromHeaders.some((h) => h.name.toLowerCase() === found.header)) {
      throw tokenError('jwt_issuer', `tokens of this issuer are not accepted in the ${found.header} header`);
    }
    // Checked before jose so the reason is exact; jose enforces the same list again.
    if (typeof header.alg !== 'string' || !ic.algorithms.includes(header.alg)) {
      throw tokenError('jwt_alg_not_allowed', 'the token algorithm is not allowed for this issuer');
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(found.token, (h, t) => issuer.jwks.resolve(h, t), {
        issuer: ic.issuer,
        // jose takes mutable arrays; a fresh verification is rare (verdicts are cached), so the copies cost little.
        audience: [...ic.audiences],
        algorithms: [...ic.algorithms],
        clockTolerance: ic.leewaySeconds,
        currentDate: new Date(now),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      throw mapJoseError(err);
    }
    const nowS = Math.floor(now / 1000);
    if (typeof payload.iat === 'number' && payload.iat > nowS + ic.leewaySeconds) {
      throw tokenError('jwt_not_yet_valid', 'the token was issued in the future (iat)');
    }
    const groups = readGroups(payload, ic.groupsClaims);
    const user: EndUser = {
      issuer: ic.issuer,
      subject: payload.sub!,
      audiences: audiences(payload.aud),
      presenter: typeof payload.azp === 'string' ? payload.azp : null,
      claims: withGroups(payload, ic.groupsClaims, groups),
      groups,
      expiresAt: payload.exp! * 1000,
      credentialId: `jwt:${fingerprint(found.token)}`,
    };
    return this.remember(found, { user, svidPeer: null }, payload, ic.leewaySeconds, epoch);
  }

  private async verifySvid(
    found: FoundToken,
    header: JWSHeaderParameters,
    sub: string,
    now: number,
    epoch: number,
  ): Promise<JwtResult> {
    const cfg = this.config.jwtSvid!;
    if (!cfg.fromHeaders.some((h) => h.name.toLowerCase() === found.header)) {
      throw tokenError('jwt_issuer', `JWT-SVIDs are not accepted in the ${found.header} header`);
    }
    const alg = header.alg;
    if (typeof alg !== 'string' || !SVID_ALGS.includes(alg)) {
      throw tokenError('jwt_alg_not_allowed', 'a JWT-SVID must use an asymmetric algorithm');
    }
    if (header.typ !== undefined && header.typ !== 'JWT' && header.typ !== 'JOSE') {
      throw tokenError('jwt_malformed', 'a JWT-SVID typ header must be JWT or JOSE');
    }
    const id = tryParseSpiffeId(sub);
    if (id === null || id.path === '') throw tokenError('jwt_claims', 'the JWT-SVID sub is not a workload SPIFFE ID');
    if (this.bundles.get(id.trustDomain) === null) {
      throw tokenError('svid_untrusted_domain', `trust domain ${id.trustDomain} has no trust bundle`);
    }
    if (typeof header.kid !== 'string') throw tokenError('jwt_unknown_kid', 'the JWT-SVID has no kid');
    const jwk = this.bundles.jwtKey(id.trustDomain, header.kid);
    if (jwk === null) throw tokenError('jwt_unknown_kid', 'no jwt-svid key of the trust domain matches the kid');
    let payload: JWTPayload;
    try {
      const cryptoKey = await this.importSvidKey(jwk, alg);
      ({ payload } = await jwtVerify(found.token, cryptoKey, {
        audience: [...cfg.audiences],
        algorithms: [alg],
        clockTolerance: cfg.leewaySeconds,
        currentDate: new Date(now),
        requiredClaims: ['exp', 'aud', 'sub'],
      }));
    } catch (err) {
      throw mapJoseError(err);
    }
    const svidPeer: PeerIdentity = {
      spiffeId: id.toString(),
      trustDomain: id.trustDomain,
      namespace: id.namespace,
      serviceAccount: id.serviceAccount,
      expiresAt: payload.exp! * 1000,
      credentialId: `jwt-svid:${fingerprint(found.token)}`,
    };
    return this.remember(found, { user: null, svidPeer }, payload, cfg.leewaySeconds, epoch);
  }

  private importSvidKey(jwk: JWK, alg: string): Promise<ResolvedKey> {
    let byAlg = this.svidKeys.get(jwk);
    if (!byAlg) {
      byAlg = new Map();
      this.svidKeys.set(jwk, byAlg);
    }
    let key = byAlg.get(alg);
    if (!key) {
      key = importJWK(jwk, alg) as Promise<ResolvedKey>;
      byAlg.set(alg, key);
    }
    return key;
  }

  private remember(
    found: FoundToken,
    result: JwtResult,
    payload: JWTPayload,
    leeway: number,
    epoch: number,
  ): JwtResult {
    const nbf = typeof payload.nbf === 'number' ? payload.nbf : Number.NEGATIVE_INFINITY;
    const entry = { result, notBefore: nbf - leeway, notAfter: payload.exp! + leeway };
    this.cache.set(found.token, entry, found.header, epoch);
    return result;
  }

  /** Claims Envoy's jwt_authn filter verified (payload_in_metadata), when the config trusts them. */
  private fromEnvoyMetadata(filterMetadata: Readonly<Record<string, unknown>>, now: number): JwtResult {
    const cfg = this.config.envoyJwtAuthn;
    if (!cfg.enabled) return NONE;
    const ns = filterMetadata[cfg.namespace];
    if (typeof ns !== 'object' || ns === null) return NONE;
    const payloads = Object.values(ns as Record<string, unknown>).filter(
      (v): v is Record<string, unknown> =>
        typeof v === 'object' &&
        v !== null &&
        typeof (v as JWTPayload).iss === 'string' &&
        typeof (v as JWTPayload).sub === 'string',
    );
    if (payloads.length === 0) return NONE;
    if (payloads.length > 1) throw tokenError('jwt_claims', 'Envoy verified more than one token for this request');
    const payload = payloads[0]!;
    const iss = payload.iss as string;
    const groupsClaims = this.issuers.get(iss)?.config.groupsClaims ?? DEFAULT_GROUPS_CLAIMS;
    const groups = readGroups(payload, groupsClaims);
    const user: EndUser = {
      issuer: iss,
      subject: payload.sub as string,
      audiences: audiences(payload.aud),
      presenter: typeof payload.azp === 'string' ? payload.azp : null,
      claims: withGroups(payload, groupsClaims, groups),
      groups,
      // Envoy re-verifies on every request: this identity is only as old as the request.
      expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : now + 60_000,
      credentialId: `jwt_authn:${createHash('sha256').update(JSON.stringify(payload)).digest('base64url')}`,
    };
    return { user, svidPeer: null };
  }
}

/**
 * The verified claims as policies see them. When groups come from other claims than `groups` (e.g. `roles`,
 * `realm_access.roles`), `groups` is set to the configured groups, so `request.auth.claims[groups]` always means
 * "the groups this config recognises", whatever the IdP calls them.
 */
function withGroups(
  payload: Readonly<Record<string, unknown>>,
  groupsClaims: readonly string[],
  groups: readonly string[],
): Readonly<Record<string, unknown>> {
  if (groupsClaims.length === 1 && groupsClaims[0] === 'groups') return Object.freeze({ ...payload });
  return Object.freeze({ ...payload, groups: [...groups] });
}

/** A stable, non-reversible id of a token for cache keys downstream (the token itself never leaves here). */
function fingerprint(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function audiences(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return [];
}
