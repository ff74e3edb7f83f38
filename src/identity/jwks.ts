import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, errors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import { IdentityError } from './types.js';

type KeyResolver = ReturnType<typeof createLocalJWKSet>;
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

/** A JWKS read from a file, re-read when the file changes (the last good set keeps serving if a read fails). */
export class FileJwks implements JwksProvider {
  private resolver: KeyResolver;
  private readonly listeners: (() => void)[] = [];
  private watching = false;

  private constructor(
    private readonly path: string,
    jwks: JSONWebKeySet,
    private readonly onError: (err: Error) => void,
  ) {
    this.resolver = createLocalJWKSet(jwks);
  }

  static async open(
    path: string,
    options: { watch?: boolean; pollIntervalMs?: number; onError?: (err: Error) => void } = {},
  ): Promise<FileJwks> {
    const jwks = toJwks(JSON.parse(await readFile(path, 'utf8')), `JWKS file ${path}`);
    const provider = new FileJwks(path, jwks, options.onError ?? (() => {}));
    if (options.watch !== false) {
      provider.watching = true;
      watchFile(path, { interval: options.pollIntervalMs ?? 2000, persistent: false }, (cur, prev) => {
        if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) void provider.reload();
      });
    }
    return provider;
  }

  async reload(): Promise<void> {
    try {
      const jwks = toJwks(JSON.parse(await readFile(this.path, 'utf8')), `JWKS file ${this.path}`);
      this.resolver = createLocalJWKSet(jwks);
      for (const l of this.listeners) l();
    } catch (err) {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  resolve(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<ResolvedKey> {
    return this.resolver(header, token);
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    if (this.watching) unwatchFile(this.path);
    this.watching = false;
  }
}

export interface RemoteJwksOptions {
  readonly fetch?: typeof fetch;
  /** Minimum time between two fetches triggered by an unknown `kid` (so a flood of made-up kids cannot DoS the IdP). */
  readonly cooldownMs: number;
  /** Refetch when the set is older than this, even if every kid is known (keys get revoked too). */
  readonly maxAgeMs?: number;
  readonly timeoutMs?: number;
  /** Monotonic-enough clock for cooldowns; injectable for tests. */
  readonly clock?: () => number;
  readonly onError?: (err: Error) => void;
}

/**
 * A JWKS fetched over HTTPS and cached. An unknown `kid` triggers a refetch (the issuer may have rotated), at most
 * once per cooldown; a failed fetch keeps the last good set.
 */
export class RemoteJwks implements JwksProvider {
  private resolver: KeyResolver | null = null;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private pending: Promise<void> | null = null;
  private readonly listeners: (() => void)[] = [];
  private readonly clock: () => number;

  constructor(
    private readonly url: string,
    private readonly options: RemoteJwksOptions,
  ) {
    const u = new URL(url);
    const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
      throw new Error(`JWKS URL ${u.origin} must use https`);
    }
    this.clock = options.clock ?? Date.now;
  }

  /** Fetches now (deduplicated with any fetch in flight). Never rejects: failures go to onError. */
  refresh(): Promise<void> {
    this.pending ??= this.fetchOnce().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async fetchOnce(): Promise<void> {
    this.attemptedAt = this.clock();
    try {
      const doFetch = this.options.fetch ?? globalThis.fetch;
      const res = await doFetch(this.url, {
        headers: { accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      });
      if (!res.ok) throw new Error(`JWKS endpoint answered HTTP ${res.status}`);
      const jwks = toJwks(await res.json(), 'the JWKS endpoint response');
      this.resolver = createLocalJWKSet(jwks);
      this.fetchedAt = this.clock();
      for (const l of this.listeners) l();
    } catch (err) {
      this.options.onError?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  async resolve(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<ResolvedKey> {
    // A fetch in flight (e.g. the start-up prefetch) is awaited rather than counted as a failed attempt.
    if (this.pending) await this.pending;
    const now = this.clock();
    const maxAge = this.options.maxAgeMs ?? 600_000;
    if (this.resolver === null || now - this.fetchedAt > maxAge) {
      if (this.resolver === null || now - this.attemptedAt >= this.options.cooldownMs) await this.refresh();
    }
    if (this.resolver === null) throw new IdentityError('jwks_unavailable', 'the issuer signing keys are unavailable');
    try {
      return await this.resolver(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // Unknown kid: the issuer may have rotated. Refetch, but not more often than the cooldown allows.
      if (this.clock() - this.attemptedAt < this.options.cooldownMs) throw err;
      await this.refresh();
      return await this.resolver(header, token);
    }
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  close(): void {}
}
