import type { createLocalJWKSet, FlattenedJWSInput, JSONWebKeySet, JWSHeaderParameters } from 'jose';

/** jose's key resolver for a local key set. */
export type KeyResolver = ReturnType<typeof createLocalJWKSet>;
export type ResolvedKey = Awaited<ReturnType<KeyResolver>>;

/** Where an issuer's signing keys come from. `resolve` picks the key for one token's header (by kid and alg). */
export interface JwksProvider {
  resolve(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<ResolvedKey>;
  /** Called after the key set changed (a rotated-out key must stop validating cached tokens). */
  onChange(listener: () => void): void;
  close(): void;
}

/** Validates the shape of a JWK Set before jose sees it, and refuses private material in a public key set. */
export function toJwks(value: unknown, what: string): JSONWebKeySet {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { keys?: unknown }).keys)) {
    throw new Error(`${what} is not a JWK Set ({"keys": [...]})`);
  }
  const keys = (value as { keys: unknown[] }).keys;
  for (const k of keys) {
    if (typeof k !== 'object' || k === null) throw new Error(`${what} has a key that is not an object`);
    // A symmetric or private key in a public JWKS would let anyone who can read it mint tokens.
    if ('d' in k || 'k' in k || (k as { kty?: unknown }).kty === 'oct') {
      throw new Error(`${what} holds a private or symmetric key`);
    }
  }
  return value as JSONWebKeySet;
}
