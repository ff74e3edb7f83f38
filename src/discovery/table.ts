import { CONFIG_DEFAULTS } from '../config/schema.js';
import { type Entry, mergeInto, newEntry, type Operation, toRecord } from './entry.js';
import { coarsen } from './template.js';
import {
  destinationKey,
  type FlowDestination,
  type FlowDropRecord,
  type FlowRecord,
  type FlowSource,
} from './types.js';

/** One observation, as the recorder hands it to the table (the path is already a template). */
export interface FlowObservation {
  readonly source: FlowSource;
  readonly destination: FlowDestination;
  readonly port: number;
  readonly method: string;
  readonly path: string;
  readonly groups: readonly string[];
  readonly outcome: 'allowed' | 'denied' | 'wouldDeny';
  /** A staged (dry-run annotated) policy would have denied this request. */
  readonly shadowDenied: boolean;
  /** `ns/name` of the deciding policy, or ''. */
  readonly policy: string;
  /** ms since epoch. */
  readonly at: number;
}

export interface FlowTableLimits {
  /** Most entries held; beyond it the least-seen are evicted. */
  readonly maxFlows: number;
  /** Distinct path templates one operation (source, destination, port, method) may hold before they coarsen. */
  readonly maxPathsPerOperation: number;
  /** Most end-user groups remembered per entry. */
  readonly maxGroupsPerFlow: number;
  /** Longest group name kept (longer ones are cut). */
  readonly maxGroupLength: number;
}

export const DEFAULT_TABLE_LIMITS: FlowTableLimits = {
  maxFlows: CONFIG_DEFAULTS.discovery.maxFlows,
  maxPathsPerOperation: 64,
  maxGroupsPerFlow: 16,
  maxGroupLength: 128,
};

/** Counts above this share the top histogram bucket when choosing what to evict (they are never the least seen). */
const EVICT_BUCKETS = 1024;

/**
 * The bounded flow table behind monitor mode. Memory is bounded twice over: each operation holds at most
 * `maxPathsPerOperation` path templates (beyond that its paths merge into `/first/{**}`, then `/{**}`), and the
 * table holds at most `maxFlows` entries (beyond that the least-seen tenth is evicted in one sweep, so the sort
 * cost is amortized to O(log n) per insert). Every string kept is capped in length by the caller
 * ({@link pathTemplate}) or here (groups). What is dropped is counted and reported in {@link drops}.
 */
export class FlowTable {
  readonly limits: FlowTableLimits;
  private readonly entries = new Map<string, Entry>();
  private readonly operations = new Map<string, Operation>();
  private evictedFlows = 0;
  private evictedRequests = 0;
  private collapsedPaths = 0;
  private droppedGroups = 0;

  constructor(limits: Partial<FlowTableLimits> = {}) {
    this.limits = { ...DEFAULT_TABLE_LIMITS, ...limits };
    if (this.limits.maxFlows < 1) throw new RangeError('maxFlows must be at least 1');
  }

  get size(): number {
    return this.entries.size;
  }

  /** Number of operations tracked (never more than {@link size}). */
  get operationCount(): number {
    return this.operations.size;
  }

  add(o: FlowObservation): void {
    const opKey = `${o.source.spiffeId}\u0000${destinationKey(o.destination)}\u0000${o.port}\u0000${o.method}`;
    let op = this.operations.get(opKey);
    if (op === undefined) {
      op = {
        key: opKey,
        source: o.source,
        destination: o.destination,
        port: o.port,
        method: o.method,
        level: 0,
        entries: new Map(),
      };
      this.operations.set(opKey, op);
    }
    const path = op.level === 0 ? o.path : coarsen(o.path, op.level);
    let entry = op.entries.get(path);
    if (entry === undefined) {
      if (op.entries.size >= this.limits.maxPathsPerOperation) {
        this.coarsenOperation(op);
        this.add(o);
        return;
      }
      if (this.entries.size >= this.limits.maxFlows) {
        this.evict();
        // Eviction may have removed this operation; start again so the entry lands in a live one.
        if (!this.operations.has(opKey)) {
          this.add(o);
          return;
        }
      }
      entry = newEntry(`${opKey}\u0000${path}`, op, path, o.at);
      op.entries.set(path, entry);
      this.entries.set(entry.key, entry);
    }
    entry.count++;
    if (o.outcome === 'allowed') entry.allowed++;
    else if (o.outcome === 'denied') entry.denied++;
    else entry.wouldDeny++;
    if (o.shadowDenied) entry.shadowDenied++;
    entry.policy = o.policy;
    if (o.at < entry.firstSeen) entry.firstSeen = o.at;
    if (o.at > entry.lastSeen) entry.lastSeen = o.at;
    if (o.at < entry.windowStart) entry.windowStart = o.at;
    for (const g of o.groups) {
      if (entry.groups.has(g)) continue;
      if (entry.groups.size >= this.limits.maxGroupsPerFlow) {
        this.droppedGroups++;
        continue;
      }
      entry.groups.add(g.length > this.limits.maxGroupLength ? g.slice(0, this.limits.maxGroupLength) : g);
    }
  }

  /** Merges an operation's entries into the next coarser level of path template. */
  private coarsenOperation(op: Operation): void {
    const level: 1 | 2 = op.level === 0 ? 1 : 2;
    op.level = level;
    const old = [...op.entries.values()];
    op.entries.clear();
    for (const e of old) {
      this.entries.delete(e.key);
      const path = coarsen(e.path, level);
      const into = op.entries.get(path);
      if (into === undefined) {
        const moved = { ...e, key: `${op.key}\u0000${path}`, path };
        op.entries.set(path, moved);
        this.entries.set(moved.key, moved);
      } else {
        this.collapsedPaths++;
        mergeInto(into, e, this.limits.maxGroupsPerFlow);
      }
    }
    // Level 2 holds a single template, so a third coarsening can never be needed.
    if (op.entries.size >= this.limits.maxPathsPerOperation && level === 1) this.coarsenOperation(op);
  }

  /**
   * Evicts the least-seen tenth of the table. Two linear passes and no sort: a histogram of counts finds the
   * threshold, then entries below it go, and entries at it go in insertion order (oldest first) until a tenth is
   * gone. O(n) per sweep, one sweep per n/10 new entries: O(1) amortized per insert.
   */
  private evict(): void {
    const n = Math.max(1, Math.ceil(this.entries.size / 10));
    const hist = new Uint32Array(EVICT_BUCKETS + 1);
    for (const e of this.entries.values()) hist[Math.min(e.count, EVICT_BUCKETS)]!++;
    let threshold = 0;
    for (let seen = 0; threshold <= EVICT_BUCKETS; threshold++) {
      seen += hist[threshold]!;
      if (seen >= n) break;
    }
    let below = 0;
    for (let c = 0; c < threshold; c++) below += hist[c]!;
    let atThreshold = n - below;
    let evicted = 0;
    for (const e of this.entries.values()) {
      if (evicted >= n) break;
      const c = Math.min(e.count, EVICT_BUCKETS);
      if (c > threshold) continue;
      if (c === threshold) {
        if (atThreshold <= 0) continue;
        atThreshold--;
      }
      this.entries.delete(e.key);
      e.op.entries.delete(e.path);
      if (e.op.entries.size === 0) this.operations.delete(e.op.key);
      this.evictedFlows++;
      this.evictedRequests += e.count - e.flushed;
      evicted++;
    }
  }

  /** What the bound has dropped so far. */
  drops(at: number): FlowDropRecord {
    return {
      type: 'drops',
      at: new Date(at).toISOString(),
      evictedFlows: this.evictedFlows,
      evictedRequests: this.evictedRequests,
      collapsedPaths: this.collapsedPaths,
      droppedGroups: this.droppedGroups,
    };
  }

  /** Every entry with its total counts (for reports and tests). */
  snapshot(): FlowRecord[] {
    return [...this.entries.values()].map((e) => toRecord(e, false));
  }

  /**
   * The entries that saw requests since the last call, with the counts of that window only, and marks them
   * flushed. Records from successive calls add up to the totals, so appending them to one file loses nothing.
   */
  takeDelta(): FlowRecord[] {
    const out: FlowRecord[] = [];
    for (const e of this.entries.values()) {
      if (e.count === e.flushed) continue;
      out.push(toRecord(e, true));
      e.flushed = e.count;
      e.flushedAllowed = e.allowed;
      e.flushedDenied = e.denied;
      e.flushedWouldDeny = e.wouldDeny;
      e.flushedShadowDenied = e.shadowDenied;
      e.windowStart = Number.POSITIVE_INFINITY;
    }
    return out;
  }
}
