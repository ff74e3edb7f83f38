import { LRUCache } from 'lru-cache';
import type { CompiledPolicySet, Decision, RequestAttributes, WorkloadRef } from '../policy/types.js';
import {
  buildKey,
  DEFAULT_KEY_LIMITS,
  IdentityTokens,
  isUncacheable,
  type KeyLimits,
  type UncacheableReason,
} from './cache-key.js';
import type { CachedDecision, DecisionCache } from './seams.js';

/**
 * The decision cache: an LRU of decisions keyed by generation + the workload's policy plan + exactly the attributes
 * that plan reads (see cache-key.ts). The key plan comes with the policy plan (`CompiledPolicySet.keyPlanFor`):
 * nothing is built per workload here. Allows and denies are both cached, with their dry-run (shadow) and audit results.
 *
 * What makes it safe:
 * - a new policy generation retires every entry (the generation is in the key, and the cache is cleared when it
 *   sees a newer set), and a check still running against an older set neither reads nor writes;
 * - an entry never outlives the identities it was computed for: its expiry is min(now + ttl, peer.expiresAt,
 *   user.expiresAt), checked on every hit against the injected clock;
 * - bounded by entry count and by an estimate of bytes, so memory stays flat however many distinct requests come.
 */

export interface DecisionCacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly ttlMs: number;
  /** The clock (ms since epoch); tests freeze it. */
  readonly now?: () => number;
  readonly limits?: KeyLimits;
}

export interface DecisionCacheStats {
  readonly hits: number;
  /** Every lookup that did not return a decision (including the reasons counted below). */
  readonly misses: number;
  readonly sets: number;
  /** Entries found but past their expiry (TTL or identity). */
  readonly expired: number;
  /** Requests whose key could not be built safely (see UncacheableReason). */
  readonly uncacheable: number;
  /** Lookups or stores for an older policy generation than the cache's, skipped. */
  readonly stale: number;
  /** Entries pushed out by the entry or byte bound. */
  readonly evictions: number;
  /** Times a new policy set retired the whole cache. */
  readonly retirements: number;
  readonly entries: number;
  /** Estimated bytes held (the figure `maxBytes` bounds). */
  readonly bytes: number;
  readonly generation: number;
}

interface Entry {
  readonly decision: Decision;
  readonly expiresAt: number;
}

/** Fixed per-entry cost estimate (LRU slots, the Entry, the Map slot), in bytes. */
const ENTRY_OVERHEAD = 200;

/** Rough heap cost of one entry: the key and the decision's strings (UTF-16) plus fixed overhead. */
function entrySize(entry: Entry, key: string): number {
  const d = entry.decision;
  return ENTRY_OVERHEAD + 2 * (key.length + d.reason.length) + 96 * (d.shadow.length + d.audit.length);
}

export class LruDecisionCache implements DecisionCache {
  private readonly lru: LRUCache<string, Entry>;
  private readonly tokens = new IdentityTokens();
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly limits: KeyLimits;
  private current: CompiledPolicySet | null = null;
  private counters = { hits: 0, misses: 0, sets: 0, expired: 0, uncacheable: 0, stale: 0, evictions: 0, retire: 0 };
  private readonly uncacheableByReason = new Map<UncacheableReason, number>();

  constructor(options: DecisionCacheOptions) {
    this.now = options.now ?? Date.now;
    this.ttlMs = options.ttlMs;
    this.limits = options.limits ?? DEFAULT_KEY_LIMITS;
    this.lru = new LRUCache<string, Entry>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: entrySize,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') this.counters.evictions++;
      },
    });
  }

  /** The cached decision for this request, or the policy set's (stored when it may be). */
  decide(set: CompiledPolicySet, workload: WorkloadRef, request: RequestAttributes): CachedDecision {
    if (!this.adopt(set)) {
      // A check that started before a reload: decided by its own set, neither read from nor written to the cache.
      this.counters.stale++;
      this.counters.misses++;
      return { decision: set.evaluate(workload, request), hit: false };
    }
    const key = this.keyFor(set, workload, request);
    const cached = this.lookup(key);
    if (cached !== undefined) return { decision: cached, hit: true };
    const decision = set.evaluate(workload, request);
    if (key !== null) this.store(key, request, decision);
    return { decision, hit: false };
  }

  /** The cached decision, if any (a building block of {@link decide}; tests read the cache through it). */
  get(set: CompiledPolicySet, workload: WorkloadRef, request: RequestAttributes): Decision | undefined {
    if (!this.adopt(set)) {
      this.counters.stale++;
      this.counters.misses++;
      return undefined;
    }
    return this.lookup(this.keyFor(set, workload, request));
  }

  /** Stores `decision` for this request (a building block of {@link decide}). */
  set(set: CompiledPolicySet, workload: WorkloadRef, request: RequestAttributes, decision: Decision): void {
    if (!this.adopt(set)) {
      this.counters.stale++;
      return;
    }
    const key = this.keyFor(set, workload, request);
    if (key !== null) this.store(key, request, decision);
  }

  /** A live entry's decision; counts the hit, or the miss (and drops an expired entry). */
  private lookup(key: string | null): Decision | undefined {
    const entry = key === null ? undefined : this.lru.get(key);
    if (entry !== undefined && entry.expiresAt > this.now()) {
      this.counters.hits++;
      return entry.decision;
    }
    if (entry !== undefined) {
      this.lru.delete(key!);
      this.counters.expired++;
    }
    this.counters.misses++;
    return undefined;
  }

  private store(key: string, request: RequestAttributes, decision: Decision): void {
    const now = this.now();
    let expiresAt = now + this.ttlMs;
    if (request.peer !== null && request.peer.expiresAt < expiresAt) expiresAt = request.peer.expiresAt;
    if (request.user !== null && request.user.expiresAt < expiresAt) expiresAt = request.user.expiresAt;
    if (expiresAt <= now) return;
    this.lru.set(key, { decision, expiresAt });
    this.counters.sets++;
  }

  /** Drops every entry. */
  clear(): void {
    this.lru.clear();
  }

  stats(): DecisionCacheStats {
    const c = this.counters;
    return {
      hits: c.hits,
      misses: c.misses,
      sets: c.sets,
      expired: c.expired,
      uncacheable: c.uncacheable,
      stale: c.stale,
      evictions: c.evictions,
      retirements: c.retire,
      entries: this.lru.size,
      bytes: this.lru.calculatedSize,
      generation: this.current?.generation ?? -1,
    };
  }

  /** Uncacheable requests by reason (for metrics and tests). */
  uncacheableReasons(): ReadonlyMap<UncacheableReason, number> {
    return this.uncacheableByReason;
  }

  /**
   * Makes `set` the cache's policy set when it is the current one or newer; returns false for an older set (a check
   * that started before a reload), which must neither read nor write. A different set object with the same
   * generation is treated as new: nothing tells their decisions apart, so none is served across them.
   */
  private adopt(set: CompiledPolicySet): boolean {
    const current = this.current;
    if (set === current) return true;
    if (current !== null && set.generation < current.generation) return false;
    if (current !== null) this.counters.retire++;
    this.clear();
    this.current = set;
    return true;
  }

  private keyFor(set: CompiledPolicySet, workload: WorkloadRef, request: RequestAttributes): string | null {
    const key = buildKey(set.keyPlanFor(workload), request, this.limits, this.tokens);
    if (isUncacheable(key)) {
      this.counters.uncacheable++;
      this.uncacheableByReason.set(key, (this.uncacheableByReason.get(key) ?? 0) + 1);
      return null;
    }
    return key;
  }
}

/** The cache's settings as the config file's `cache` section states them (structurally: no config import here). */
export interface CacheSettings {
  readonly enabled: boolean;
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly ttlSeconds: number;
}

/** The cache `config.cache` describes, or null when it is switched off. */
export function createDecisionCache(
  config: CacheSettings,
  options: { now?: () => number; limits?: KeyLimits } = {},
): LruDecisionCache | null {
  if (!config.enabled) return null;
  return new LruDecisionCache({
    maxEntries: config.maxEntries,
    maxBytes: config.maxBytes,
    ttlMs: config.ttlSeconds * 1000,
    ...options,
  });
}
