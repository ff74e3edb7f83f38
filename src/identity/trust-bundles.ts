import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import type { TrustBundleConfig } from '../config/schema.js';
import { BundleError, bundleFromPem, mergeBundles, parseSpiffeBundle, type TrustBundle } from './bundle.js';
import type { CertInfo } from './certificate.js';
import { parseTrustDomain } from './spiffe-id.js';
import type { X509AuthoritySource } from './x509-svid.js';

/** Default bundle endpoint refresh when neither config nor the document says (the SPIFFE suggestion, ~5 min). */
const DEFAULT_REFRESH_SECONDS = 300;
/** After a failed endpoint fetch, try again sooner than the normal refresh, but not in a tight loop. */
const RETRY_SECONDS = 30;

export interface TrustBundleSetOptions {
  /** Resolves a path from the config file (relative to the file's folder). */
  readonly resolvePath: (p: string) => string;
  /** For bundle endpoints. Injected so tests and the pure library never open sockets themselves. */
  readonly fetch?: typeof fetch;
  /** Watch bundle files for changes. Default true. */
  readonly watch?: boolean;
  /** fs.watchFile polling interval (ms). Polling survives atomic renames (Kubernetes ConfigMap/Secret swaps). */
  readonly pollIntervalMs?: number;
  /** A reload or refresh failed; the last good bundle keeps serving. */
  readonly onError?: (err: Error, trustDomain: string) => void;
}

/** One configured source of one trust domain's bundle, with its last good content. */
interface Source {
  readonly config: TrustBundleConfig;
  pem: TrustBundle | null;
  document: TrustBundle | null;
  endpoint: TrustBundle | null;
  timer: NodeJS.Timeout | null;
}

/**
 * The trust bundles of every trust domain this service trusts (its own and federated ones), each kept apart:
 * lookups always name the trust domain, and a domain with no bundle (or an empty one) is untrusted.
 * Bundles come from PEM files, SPIFFE bundle documents and bundle endpoints; files are re-read when they change and
 * endpoints are refreshed at their `spiffe_refresh_hint`. A failed reload keeps the last good bundle.
 */
export class TrustBundleSet implements X509AuthoritySource {
  private readonly bundles = new Map<string, TrustBundle>();
  private readonly sources: Source[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly watched: string[] = [];
  private closed = false;
  private generationValue = 0;

  constructor(private readonly options: Partial<TrustBundleSetOptions> = {}) {}

  /** Loads every configured bundle (files read, endpoints fetched once) and starts watching/refreshing. */
  static async fromConfig(
    configs: readonly TrustBundleConfig[],
    options: TrustBundleSetOptions,
  ): Promise<TrustBundleSet> {
    const set = new TrustBundleSet(options);
    for (const config of configs) {
      parseTrustDomain(config.trustDomain);
      if (config.endpoint !== undefined) assertEndpointUrl(config.endpoint);
      set.sources.push({ config, pem: null, document: null, endpoint: null, timer: null });
    }
    for (const source of set.sources) {
      // Files must load at start: a typo in a bundle path is a configuration error, not a silent distrust.
      await set.loadFiles(source, true);
      if (source.config.endpoint !== undefined) await set.refreshEndpoint(source);
    }
    set.rebuild();
    if (options.watch !== false) set.startWatching();
    return set;
  }

  /** Increases whenever any bundle changes; caches of verified identities compare it. */
  get generation(): number {
    return this.generationValue;
  }

  /** Calls `listener` after every change (so caches of verified identities can be dropped). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(trustDomain: string): TrustBundle | null {
    return this.bundles.get(trustDomain) ?? null;
  }

  trustDomains(): string[] {
    return [...this.bundles.keys()];
  }

  x509Roots(trustDomain: string): readonly CertInfo[] | null {
    const b = this.bundles.get(trustDomain);
    return b && b.x509Authorities.length > 0 ? b.x509Authorities : null;
  }

  /** The JWT-SVID key `kid` of `trustDomain`, or null. */
  jwtKey(trustDomain: string, kid: string): JWK | null {
    return this.bundles.get(trustDomain)?.jwtAuthorities.get(kid) ?? null;
  }

  /** Sets a trust domain's bundle directly (tests, embedding). Replaces whatever configured sources gave. */
  set(bundle: TrustBundle): void {
    parseTrustDomain(bundle.trustDomain);
    this.bundles.set(bundle.trustDomain, bundle);
    this.changed();
  }

  /** Re-reads every bundle file now. */
  async reload(): Promise<void> {
    for (const source of this.sources) await this.loadFiles(source, false);
    this.rebuild();
  }

  /** Fetches every bundle endpoint now. */
  async refreshEndpoints(): Promise<void> {
    for (const source of this.sources) if (source.config.endpoint !== undefined) await this.refreshEndpoint(source);
    this.rebuild();
  }

  close(): void {
    this.closed = true;
    for (const source of this.sources) if (source.timer) clearTimeout(source.timer);
    for (const path of this.watched) unwatchFile(path);
    this.watched.length = 0;
    this.listeners.clear();
  }

  private resolve(p: string): string {
    return this.options.resolvePath ? this.options.resolvePath(p) : p;
  }

  private async loadFiles(source: Source, strict: boolean): Promise<void> {
    const { trustDomain, pem, spiffeBundle } = source.config;
    try {
      if (pem !== undefined) source.pem = bundleFromPem(trustDomain, await readFile(this.resolve(pem), 'utf8'));
      if (spiffeBundle !== undefined) {
        source.document = parseSpiffeBundle(trustDomain, await readFile(this.resolve(spiffeBundle), 'utf8'));
      }
    } catch (err) {
      if (strict) throw err;
      this.report(err, trustDomain);
    }
  }

  private async refreshEndpoint(source: Source): Promise<void> {
    const { trustDomain, endpoint, refreshSeconds } = source.config;
    const doFetch = this.options.fetch ?? globalThis.fetch;
    let next = refreshSeconds ?? DEFAULT_REFRESH_SECONDS;
    try {
      const res = await doFetch(endpoint!, { headers: { accept: 'application/json' }, redirect: 'error' });
      if (!res.ok) throw new BundleError('bundle_json', `the ${trustDomain} bundle endpoint answered ${res.status}`);
      const bundle = parseSpiffeBundle(trustDomain, await res.text());
      // spiffe_sequence only grows: an older document is a replay or a stale replica, never a rollback we accept.
      const current = source.endpoint?.sequence ?? null;
      if (current !== null && bundle.sequence !== null && bundle.sequence < current) {
        throw new BundleError('bundle_json', `the ${trustDomain} bundle endpoint served an older spiffe_sequence`);
      }
      source.endpoint = bundle;
      next = refreshSeconds ?? bundle.refreshHintSeconds ?? DEFAULT_REFRESH_SECONDS;
    } catch (err) {
      this.report(err, trustDomain);
      next = Math.min(next, RETRY_SECONDS);
    }
    if (this.closed) return;
    if (source.timer) clearTimeout(source.timer);
    source.timer = setTimeout(() => {
      void this.refreshEndpoint(source).then(() => this.rebuild());
    }, next * 1000);
    source.timer.unref();
  }

  private startWatching(): void {
    const interval = this.options.pollIntervalMs ?? 2000;
    for (const source of this.sources) {
      for (const file of [source.config.pem, source.config.spiffeBundle]) {
        if (file === undefined) continue;
        const path = this.resolve(file);
        watchFile(path, { interval, persistent: false }, (cur, prev) => {
          if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
          void this.loadFiles(source, false).then(() => this.rebuild());
        });
        this.watched.push(path);
      }
    }
  }

  /** Recomputes each configured trust domain's bundle from its sources' last good content. */
  private rebuild(): void {
    if (this.closed) return;
    const byDomain = new Map<string, TrustBundle[]>();
    for (const source of this.sources) {
      const parts = byDomain.get(source.config.trustDomain) ?? [];
      for (const part of [source.pem, source.document, source.endpoint]) if (part) parts.push(part);
      byDomain.set(source.config.trustDomain, parts);
    }
    let changed = false;
    for (const [td, parts] of byDomain) {
      const next = mergeBundles(td, parts);
      const prev = this.bundles.get(td);
      if (prev === undefined || contentKey(prev) !== contentKey(next)) changed = true;
      this.bundles.set(td, next);
    }
    // A periodic refresh that brings the same keys must not flush every cached verdict.
    if (changed) this.changed();
  }

  private changed(): void {
    this.generationValue++;
    for (const listener of this.listeners) listener();
  }

  private report(err: unknown, trustDomain: string): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.options.onError?.(error, trustDomain);
  }
}

/** What a bundle trusts, as one comparable string: authority fingerprints and JWT keys. */
function contentKey(b: TrustBundle): string {
  const x509 = b.x509Authorities.map((c) => c.fingerprint).join(',');
  const jwt = [...b.jwtAuthorities].map(([kid, jwk]) => `${kid}=${JSON.stringify(jwk)}`).join(',');
  return `${x509}|${jwt}`;
}

/** Bundle endpoints are `https_web`: plain http is allowed only to loopback (tests, a local agent). */
function assertEndpointUrl(url: string): void {
  const u = new URL(url);
  const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
    throw new BundleError('bundle_json', `bundle endpoint ${u.origin} must use https`);
  }
}
