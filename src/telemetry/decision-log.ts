import type { CheckOutcome } from '../authz/outcome.js';
import type { CheckSpan, DecisionObserver } from '../authz/seams.js';
import type { TelemetryConfig } from '../config/schema.js';
import type { PathNormalization } from '../policy/normalize.js';
import type { DenyLimiter, Suppressed } from './deny-limiter.js';
import type { DecisionWriter } from './logger.js';
import { type DecisionRecord, isWouldDeny, toDecisionRecord } from './record.js';

/**
 * The decision log: one JSON line per logged decision (`"msg":"decision"`), with the fields of
 * {@link toDecisionRecord}.
 *
 * Never blocks the Check path: `onDecision` only pushes three references onto a queue; the records are built and
 * written on a later tick (`setImmediate`), after the CheckResponse has gone out. The queue is bounded: under an
 * overload that outruns the log, lines are dropped and counted (`mesh_authz_decision_log_dropped_total`) rather
 * than growing memory without limit. Would-denies go through the deny rate limit shared with the tracer
 * (deny-limiter.ts): a line over the limit is not written, and the next written line of the same policy and
 * reason carries `suppressed`.
 */

export type DecisionLogMode = TelemetryConfig['log']['decisions'];

export interface DecisionLogOptions {
  readonly mode: DecisionLogMode;
  /** In `sample` mode, the fraction of allows logged (denies are always logged). */
  readonly allowSampleRate: number;
  /** Queue bound; beyond it lines are dropped. */
  readonly maxQueue?: number;
  /** Called with how many lines were dropped. */
  readonly onDropped?: (count: number) => void;
  /** A [0, 1) random source (tests freeze it). */
  readonly random?: () => number;
  /** The policies' path normalization: lines then carry `normalized_path`, the path the rules matched. */
  readonly pathNormalization?: PathNormalization;
  /** The deny rate limit shared with the tracer (deny-limiter.ts); none by default. */
  readonly limiter?: DenyLimiter;
  /** Called with how many lines a failing writer lost. */
  readonly onWriteFailed?: (count: number) => void;
  /** Called with how many lines were written. */
  readonly onWritten?: (count: number) => void;
  /** Told when lines were dropped (the service logger warns). */
  readonly warn?: (message: string, fields: Record<string, unknown>) => void;
}

interface Pending {
  readonly outcome: CheckOutcome;
  readonly traceId: string;
  readonly spanId: string;
  readonly suppressed: Suppressed | null;
}

const DEFAULT_MAX_QUEUE = 10_000;

export class DecisionLog implements DecisionObserver {
  private queue: Pending[] = [];
  private scheduled: NodeJS.Immediate | null = null;
  private dropped = 0;
  private readonly maxQueue: number;
  private readonly random: () => number;

  constructor(
    private readonly writer: DecisionWriter,
    private readonly options: DecisionLogOptions,
  ) {
    this.maxQueue = options.maxQueue ?? DEFAULT_MAX_QUEUE;
    this.random = options.random ?? Math.random;
  }

  /** Whether this decision gets a log line under the configured mode. */
  wants(outcome: CheckOutcome): boolean {
    switch (this.options.mode) {
      case 'none':
        return false;
      case 'all':
        return true;
      case 'deny':
        return isWouldDeny(outcome);
      case 'sample':
        return isWouldDeny(outcome) || this.random() < this.options.allowSampleRate;
    }
  }

  onDecision(outcome: CheckOutcome, span: CheckSpan): void {
    if (!this.wants(outcome)) return;
    let suppressed: Suppressed | null = null;
    if (this.options.limiter !== undefined && isWouldDeny(outcome)) {
      const verdict = this.options.limiter.verdict(outcome);
      if (verdict === false) return;
      suppressed = verdict;
    }
    if (this.queue.length >= this.maxQueue) {
      this.dropped++;
      return;
    }
    this.queue.push({ outcome, traceId: span.traceId, spanId: span.spanId, suppressed });
    this.scheduled ??= setImmediate(() => this.drain());
  }

  /** Writes every queued line now (shutdown, tests). */
  drain(): void {
    if (this.scheduled !== null) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    const batch = this.queue;
    this.queue = [];
    let written = 0;
    let failed = 0;
    for (const p of batch) {
      try {
        const record: { suppressed?: Suppressed } & DecisionRecord = toDecisionRecord(
          p.outcome,
          p.traceId,
          p.spanId,
          this.options.pathNormalization,
        );
        // Added, not spread into a copy: the record is this line's own, and a spread copy is slow to build and to
        // stringify.
        if (p.suppressed !== null) record.suppressed = p.suppressed;
        this.writer.write(record);
        written++;
      } catch {
        // A logging failure must never surface on the Check path or stop the rest of the batch.
        failed++;
      }
    }
    if (written > 0) this.options.onWritten?.(written);
    if (failed > 0) {
      this.options.onWriteFailed?.(failed);
      this.options.warn?.('decision log write failed; lines dropped', { dropped: failed });
    }
    if (this.dropped > 0) {
      const count = this.dropped;
      this.dropped = 0;
      this.options.onDropped?.(count);
      this.options.warn?.('decision log queue full; lines dropped', { dropped: count });
    }
  }
}
