import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { TrustBundleConfig } from '../config/schema.js';
import { BundleError, bundleFromPem, mergeBundles, parseSpiffeBundle, type TrustBundle } from '../identity/bundle.js';
import { parseTrustDomain } from '../identity/spiffe-id.js';
import { TrustBundleSet } from '../identity/trust-bundles.js';
import { fetchDocument, isHttpsOrLoopback } from './http-document.js';

/** Default bundle endpoint refresh when neither config nor the document says (the SPIFFE suggestion, ~5 min). */
const DEFAULT_REFRESH_SECONDS = 300;
/** After a failed endpoint fetch, try again sooner than the normal refresh, but not in a tight loop. */
const RETRY_SECONDS = 30;

export interface TrustBundleLoaderOptions {
  /** Resolves a path from the config file (relative to the file's folder). */
  readonly resolvePath: (p: string) => string;
  /** For bundle endpoints. Injected so tests never open sockets to the outside. */
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
 * Feeds a {@link TrustBundleSet} from the configured PEM files, SPIFFE bundle documents and bundle endpoints: files
 * are re-read when they change, endpoints refreshed at their `spiffe_refresh_hint`. A failed reload keeps the last
 * good bundle of that source.
 */
export class TrustBundleLoader {
  readonly set = new TrustBundleSet();
  private readonly sources: Source[] = [];
  private readonly watched: string[] = [];
  private closed = false;

  private constructor(private readonly options: TrustBundleLoaderOptions) {}

  /** Loads every configured bundle (files read, endpoints fetched once) and starts watching/refreshing. */
  static async open(
    configs: readonly TrustBundleConfig[],
    options: TrustBundleLoaderOptions,
  ): Promise<TrustBundleLoader> {
    const loader = new TrustBundleLoader(options);
    for (const config of configs) {
      parseTrustDomain(config.trustDomain);
      if (config.endpoint !== undefined) assertEndpointUrl(config.endpoint);
      loader.sources.push({ config, pem: null, document: null, endpoint: null, timer: null });
    }
    for (const source of loader.sources) {
      // Files must load at start: a typo in a bundle path is a configuration error, not a silent distrust.
      await loader.loadFiles(source, true);
      if (source.config.endpoint !== undefined) await loader.refreshEndpoint(source);
    }
    loader.rebuild();
    if (options.watch !== false) loader.startWatching();
    return loader;
  }

  /** The set's change counter (caches of verified identities compare it). */
  get generation(): number {
    return this.set.generation;
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
  }

  private resolve(p: string): string {
    return this.options.resolvePath(p);
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
    let next = refreshSeconds ?? DEFAULT_REFRESH_SECONDS;
    try {
      const what = `the ${trustDomain} bundle endpoint ${new URL(endpoint!).origin}`;
      const res = await fetchDocument(endpoint!, what, { fetch: this.options.fetch });
      if (!res.ok) throw new BundleError('bundle_json', `the ${trustDomain} bundle endpoint answered ${res.status}`);
      const bundle = parseSpiffeBundle(trustDomain, res.text);
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
      this.refreshEndpoint(source)
        .then(() => this.rebuild())
        .catch((err: unknown) => this.report(err, source.config.trustDomain));
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
          this.loadFiles(source, false)
            .then(() => this.rebuild())
            .catch((err: unknown) => this.report(err, source.config.trustDomain));
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
    const next = new Map<string, TrustBundle>();
    for (const [td, parts] of byDomain) next.set(td, mergeBundles(td, parts));
    this.set.update(next);
  }

  private report(err: unknown, trustDomain: string): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.options.onError?.(error, trustDomain);
  }
}

/** Bundle endpoints are `https_web`: plain http is allowed only to loopback (tests, a local agent). */
function assertEndpointUrl(url: string): void {
  const u = new URL(url);
  if (!isHttpsOrLoopback(u)) {
    throw new BundleError('bundle_json', `bundle endpoint ${u.origin} must use https`);
  }
}
