import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, errors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import type { IssuerConfig } from '../config/schema.js';
import { type JwksProvider, type KeyResolver, type ResolvedKey, toJwks } from '../identity/jwks.js';
import { IdentityError } from '../identity/types.js';
import { fetchDocument, isHttpsOrLoopback } from './http-document.js';

/**
 * Where issuers' signing keys come from: a JWKS file (re-read when it changes) or an HTTPS endpoint (fetched,
 * cached, refetched on an unknown `kid` at most once per cooldown). The pure JWT verifier gets them as
 * {@link JwksProvider}s through {@link openJwks}.
 */

export interface JwksSourceOptions {
  readonly resolvePath: (p: string) => string;
  readonly fetch?: typeof fetch;
  readonly watch?: boolean;
  readonly pollIntervalMs?: number;
  /** Clock for refetch cooldowns; injectable for tests. */
  readonly clock?: () => number;
}

/**
 * Opens one issuer's key source. Remote keys are fetched now, in the background: the first request should not
 * wait on the IdP, and an IdP that is down at start must not stop the service from starting (tokens fail with
 * `jwks_unavailable` meanwhile). A JWKS file must load at start (a typo is a configuration error).
 */
export async function openJwks(
  issuer: IssuerConfig,
  options: JwksSourceOptions,
  onError: (err: Error) => void,
): Promise<JwksProvider> {
  if (issuer.jwks.file) {
    return FileJwks.open(options.resolvePath(issuer.jwks.file), {
      watch: options.watch,
      pollIntervalMs: options.pollIntervalMs,
      onError,
    });
  }
  const remote = new RemoteJwks(issuer.jwks.url!, {
    fetch: options.fetch,
    cooldownMs: issuer.jwksCooldownSeconds * 1000,
    clock: options.clock,
    onError,
  });
  void remote.refresh();
  return remote;
}

/** A JWKS read from a file, re-read when the file changes (the last good set keeps serving if a read fails). */
export class FileJwks implements JwksProvider {
  private resolver: KeyResolver;
  private keys: string;
  private readonly listeners: (() => void)[] = [];
  private watching = false;

  private constructor(
    private readonly path: string,
    jwks: JSONWebKeySet,
    private readonly onError: (err: Error) => void,
  ) {
    this.resolver = createLocalJWKSet(jwks);
    this.keys = keySetKey(jwks);
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
      const keys = keySetKey(jwks);
      // A touch or rewrite with the same keys must not flush every cached token verdict.
      if (keys === this.keys) return;
      this.keys = keys;
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
  private keys = '';
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
    if (!isHttpsOrLoopback(u)) {
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
      const res = await fetchDocument(this.url, `the JWKS endpoint ${new URL(this.url).origin}`, this.options);
      if (!res.ok) throw new Error(`JWKS endpoint answered HTTP ${res.status}`);
      const jwks = toJwks(JSON.parse(res.text), 'the JWKS endpoint response');
      this.fetchedAt = this.clock();
      const keys = keySetKey(jwks);
      // A periodic refetch that brings the same keys must not flush every cached token verdict.
      if (keys === this.keys) return;
      const first = this.resolver === null;
      this.keys = keys;
      this.resolver = createLocalJWKSet(jwks);
      if (!first) for (const l of this.listeners) l();
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

/** The key set as one comparable string (key order kept: it is the issuer's choice, and rare to change alone). */
function keySetKey(jwks: JSONWebKeySet): string {
  return JSON.stringify(jwks.keys);
}
