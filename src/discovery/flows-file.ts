import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { MeshAuthzError } from '../errors.js';
import { type FlowDropRecord, type FlowRecord, flowKey } from './types.js';

/**
 * Reading flow files back: each line is validated (a hand-edited or truncated file gives `file:line` errors, not
 * a crash), and records with the same key are merged by summing, so several recorder replicas' files, or
 * successive flushes of one, combine into one picture.
 */

const str = z.string().max(4096);
const flowSchema = z.object({
  type: z.literal('flow'),
  source: z.object({ spiffeId: str, trustDomain: str, namespace: str, serviceAccount: str }),
  destination: z.object({ namespace: str.min(1), workload: str.min(1), labels: z.record(str, str) }),
  port: z.number().int().min(0).max(65535),
  method: str.min(1),
  path: str.min(1).startsWith('/'),
  groups: z.array(str).max(1024),
  count: z.number().int().nonnegative(),
  decisions: z.object({
    allowed: z.number().int().nonnegative(),
    denied: z.number().int().nonnegative(),
    wouldDeny: z.number().int().nonnegative(),
    shadowDenied: z.number().int().nonnegative().default(0),
  }),
  policy: str,
  firstSeen: z.iso.datetime(),
  lastSeen: z.iso.datetime(),
});

export type FlowFileErrorCode = 'flows_unreadable' | 'flows_invalid';

export class FlowFileError extends MeshAuthzError<FlowFileErrorCode> {
  override readonly name = 'FlowFileError';
  constructor(code: FlowFileErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

export interface FlowSet {
  readonly flows: FlowRecord[];
  /** The latest drop counters per file (what the recorder could not keep). */
  readonly drops: FlowDropRecord[];
  /** Lines that were not flows or drop records (ignored, counted). */
  readonly ignoredLines: number;
}

/** Merges records with the same key: counts add, the window widens, groups unite. */
export function mergeFlows(records: Iterable<FlowRecord>): FlowRecord[] {
  const byKey = new Map<string, FlowRecord>();
  for (const r of records) {
    const k = flowKey(r);
    const prev = byKey.get(k);
    if (prev === undefined) {
      byKey.set(k, r);
      continue;
    }
    const later = r.lastSeen >= prev.lastSeen;
    byKey.set(k, {
      ...prev,
      count: prev.count + r.count,
      decisions: {
        allowed: prev.decisions.allowed + r.decisions.allowed,
        denied: prev.decisions.denied + r.decisions.denied,
        wouldDeny: prev.decisions.wouldDeny + r.decisions.wouldDeny,
        shadowDenied: prev.decisions.shadowDenied + r.decisions.shadowDenied,
      },
      groups: [...new Set([...prev.groups, ...r.groups])].sort(),
      policy: later ? r.policy : prev.policy,
      // ISO-8601 UTC strings order as the instants they name.
      firstSeen: [r.firstSeen, prev.firstSeen].sort()[0]!,
      lastSeen: later ? r.lastSeen : prev.lastSeen,
    });
  }
  return [...byKey.values()];
}

/** Reads and merges JSON Lines flow files. Throws {@link FlowFileError} naming the file and line. */
export async function readFlowFiles(files: readonly string[]): Promise<FlowSet> {
  const all: FlowRecord[] = [];
  const drops: FlowDropRecord[] = [];
  let ignoredLines = 0;
  for (const file of files) {
    let lastDrops: FlowDropRecord | null = null;
    let n = 0;
    try {
      const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of lines) {
        n++;
        if (line.trim() === '') continue;
        let obj: unknown;
        try {
          obj = JSON.parse(line);
        } catch {
          throw new FlowFileError('flows_invalid', `${file}:${n}: not JSON`);
        }
        const type = (obj as { type?: unknown } | null)?.type;
        if (type === 'drops') {
          lastDrops = obj as FlowDropRecord;
          continue;
        }
        if (type !== 'flow') {
          ignoredLines++;
          continue;
        }
        const parsed = flowSchema.safeParse(obj);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          throw new FlowFileError(
            'flows_invalid',
            `${file}:${n}: ${issue.path.join('.') || 'record'}: ${issue.message}`,
          );
        }
        all.push(parsed.data as FlowRecord);
      }
    } catch (err) {
      if (err instanceof FlowFileError) throw err;
      throw new FlowFileError('flows_unreadable', `${file}: cannot read: ${(err as Error).message}`, { cause: err });
    }
    if (lastDrops !== null) drops.push(lastDrops);
  }
  return { flows: mergeFlows(all), drops, ignoredLines };
}
