import type { FlowDestination, FlowRecord, FlowSource } from './types.js';

/**
 * One entry of the flow table and the operation it belongs to, with the three things done to entries: create,
 * merge (when an operation's paths coarsen) and turn into a {@link FlowRecord} (totals, or the window since the
 * last flush).
 */

export interface Entry {
  readonly key: string;
  readonly op: Operation;
  readonly path: string;
  groups: Set<string>;
  count: number;
  /** `count` at the last flush: a flush writes only the difference. */
  flushed: number;
  allowed: number;
  denied: number;
  wouldDeny: number;
  shadowDenied: number;
  flushedAllowed: number;
  flushedDenied: number;
  flushedWouldDeny: number;
  flushedShadowDenied: number;
  policy: string;
  firstSeen: number;
  lastSeen: number;
  /** First sighting since the last flush (the window start of the next record). */
  windowStart: number;
}

/** An operation: everything of a flow but the path. Coarsens its paths as one. */
export interface Operation {
  readonly key: string;
  readonly source: FlowSource;
  readonly destination: FlowDestination;
  readonly port: number;
  readonly method: string;
  level: 0 | 1 | 2;
  readonly entries: Map<string, Entry>;
}

export function newEntry(key: string, op: Operation, path: string, at: number): Entry {
  return {
    key,
    op,
    path,
    groups: new Set(),
    count: 0,
    flushed: 0,
    allowed: 0,
    denied: 0,
    wouldDeny: 0,
    shadowDenied: 0,
    flushedAllowed: 0,
    flushedDenied: 0,
    flushedWouldDeny: 0,
    flushedShadowDenied: 0,
    policy: '',
    firstSeen: at,
    lastSeen: at,
    windowStart: at,
  };
}

export function mergeInto(into: Entry, e: Entry, maxGroups: number): void {
  into.count += e.count;
  into.flushed += e.flushed;
  into.allowed += e.allowed;
  into.denied += e.denied;
  into.wouldDeny += e.wouldDeny;
  into.shadowDenied += e.shadowDenied;
  into.flushedAllowed += e.flushedAllowed;
  into.flushedDenied += e.flushedDenied;
  into.flushedWouldDeny += e.flushedWouldDeny;
  into.flushedShadowDenied += e.flushedShadowDenied;
  into.firstSeen = Math.min(into.firstSeen, e.firstSeen);
  into.lastSeen = Math.max(into.lastSeen, e.lastSeen);
  into.windowStart = Math.min(into.windowStart, e.windowStart);
  if (e.lastSeen >= into.lastSeen) into.policy = e.policy;
  for (const g of e.groups) if (into.groups.size < maxGroups) into.groups.add(g);
}

export function toRecord(e: Entry, delta: boolean): FlowRecord {
  const first = delta && Number.isFinite(e.windowStart) ? Math.max(e.windowStart, e.firstSeen) : e.firstSeen;
  return {
    type: 'flow',
    source: e.op.source,
    destination: e.op.destination,
    port: e.op.port,
    method: e.op.method,
    path: e.path,
    groups: [...e.groups].sort(),
    count: delta ? e.count - e.flushed : e.count,
    decisions: delta
      ? {
          allowed: e.allowed - e.flushedAllowed,
          denied: e.denied - e.flushedDenied,
          wouldDeny: e.wouldDeny - e.flushedWouldDeny,
          shadowDenied: e.shadowDenied - e.flushedShadowDenied,
        }
      : { allowed: e.allowed, denied: e.denied, wouldDeny: e.wouldDeny, shadowDenied: e.shadowDenied },
    policy: e.policy,
    firstSeen: new Date(first).toISOString(),
    lastSeen: new Date(e.lastSeen).toISOString(),
  };
}
