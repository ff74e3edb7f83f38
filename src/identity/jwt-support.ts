import { errors } from 'jose';
import { IdentityError, type IdentityErrorCode } from './types.js';

/** Where a bearer token is read from: a lowercase header name and the scheme prefix to strip (may be ''). */
export interface TokenSource {
  readonly name: string;
  readonly prefix: string;
}

/** A token found in a request, with the header it came from. */
export interface FoundToken {
  readonly token: string;
  readonly header: string;
}

/** RFC 6750 challenge for a failed bearer token. The description is a fixed safe message, never token content. */
export function bearerChallenge(description: string): string {
  const safe = description.replace(/["\\]/g, "'");
  return `Bearer error="invalid_token", error_description="${safe}"`;
}

/** An IdentityError for a bearer token, with its WWW-Authenticate challenge. */
export function tokenError(code: IdentityErrorCode, message: string, cause?: unknown): IdentityError {
  return new IdentityError(code, message, { cause, wwwAuthenticate: bearerChallenge(message) });
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Reads the bearer token(s) from the configured headers. A header without the configured prefix (e.g.
 * `Authorization: Basic ...`) is not a bearer credential and is skipped. Two DIFFERENT tokens in one request are
 * refused: which one the policy saw would otherwise depend on an order the client controls.
 */
export function extractToken(
  headers: Readonly<Record<string, string>>,
  sources: readonly TokenSource[],
): FoundToken | null {
  let found: FoundToken | null = null;
  for (const source of sources) {
    const value = headers[source.name];
    if (value === undefined || value === '') continue;
    if (source.prefix !== '' && value.slice(0, source.prefix.length).toLowerCase() !== source.prefix.toLowerCase()) {
      continue;
    }
    const token = value.slice(source.prefix.length).trim();
    if (!COMPACT_JWS.test(token)) {
      // Also catches two Authorization headers joined with ',' by the proxy.
      throw tokenError('jwt_malformed', `the token in the ${source.name} header is not a compact JWT`);
    }
    if (found !== null && found.token !== token) {
      throw tokenError('jwt_malformed', 'the request carries more than one bearer token');
    }
    found ??= { token, header: source.name };
  }
  return found;
}

/**
 * Groups from the configured claim paths: `groups`, `roles`, or nested `realm_access.roles`. A claim may be one
 * string or a list of strings; other values are ignored. A literal top-level key containing dots wins over a path.
 */
export function readGroups(claims: Readonly<Record<string, unknown>>, paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const path of paths) {
    const value = path in claims ? claims[path] : readPath(claims, path);
    if (typeof value === 'string') {
      if (value !== '') out.push(value);
    } else if (Array.isArray(value)) {
      for (const v of value) if (typeof v === 'string' && v !== '') out.push(v);
    }
  }
  return [...new Set(out)];
}

function readPath(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  let cur: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    if (!Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** jose's errors → our reason codes, with messages that never include the token. */
export function mapJoseError(err: unknown): IdentityError {
  if (err instanceof IdentityError) return err;
  if (err instanceof errors.JWTExpired) return tokenError('jwt_expired', 'the token has expired', err);
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'nbf':
        return tokenError('jwt_not_yet_valid', 'the token is not yet valid (nbf)', err);
      case 'iat':
        return tokenError('jwt_not_yet_valid', 'the token was issued in the future (iat)', err);
      case 'aud':
        return tokenError('jwt_audience', 'the token audience is not accepted here', err);
      case 'iss':
        return tokenError('jwt_issuer', 'the token issuer is not accepted', err);
      case 'exp':
        return tokenError('jwt_claims', 'the token has no valid exp claim', err);
      default:
        return tokenError('jwt_claims', `the token claim ${safeClaimName(err.claim)} is invalid or missing`, err);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return tokenError('jwt_bad_signature', 'the token signature does not verify', err);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return tokenError('jwt_alg_not_allowed', 'the token algorithm is not allowed', err);
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return tokenError('jwt_unknown_kid', 'no signing key of the issuer matches the token kid', err);
  }
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return tokenError('jwt_malformed', 'the token names no kid and several issuer keys could match', err);
  }
  // Every other jose error (JWSInvalid, JWTInvalid, ... all extend JOSEError).
  if (err instanceof errors.JOSEError) {
    return tokenError('jwt_malformed', 'the token is malformed', err);
  }
  return tokenError('jwt_malformed', 'the token could not be verified', err);
}

function safeClaimName(claim: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(claim) ? claim : '(unnamed)';
}
