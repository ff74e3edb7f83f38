import type { Context } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { LogRecordExporter, LogRecordProcessor, ReadableLogRecord, SdkLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * Export accounting: what the OpenTelemetry SDK's batch processors drop silently (a full queue) or report only to
 * a diagnostic logger nobody installed (a failed export) is counted here, per signal, and said out loud in the
 * service log, a few lines per outage rather than one per span.
 *
 * Counting works by wrapping, not patching, the SDK: a processor wrapper counts what it hands to the batch
 * processor, an exporter wrapper counts what reaches the exporter and how each export ended. The batch processor
 * only drops on a full queue, so "handed − dropped − reached the exporter" is its queue length, and a span handed
 * while that is at `maxQueueSize` is one it drops (counted `queue_full`).
 */

export type DropReason = 'queue_full' | 'export_failed' | 'shutdown';

/** Where the counts go (ServiceMetrics' `mesh_authz_*_exported_total` / `*_dropped_total{reason}`). */
export interface ExportCounters {
  exported(count: number): void;
  dropped(reason: DropReason, count: number): void;
}

export interface ExportLog {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

/** At most one "still failing" line per signal per this interval. */
export const EXPORT_LOG_INTERVAL_MS = 10_000;

/** Counts one signal's exports and reports failures, rate-limited. */
export class ExportAccount {
  private pending: Record<DropReason, number> = { queue_full: 0, export_failed: 0, shutdown: 0 };
  private pendingError = '';
  private lastLogAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private failing = false;
  private lostInOutage = 0;
  /** Totals, for shutdown's "what is left" arithmetic and tests. */
  handed = 0;
  reachedExporter = 0;
  exportedTotal = 0;
  droppedTotal = 0;
  queueFullTotal = 0;

  constructor(
    /** Plural noun used in log lines: `spans`, `decision log records`… */
    readonly signal: string,
    private readonly counters: ExportCounters,
    private readonly log: ExportLog,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = EXPORT_LOG_INTERVAL_MS,
  ) {}

  exported(count: number): void {
    this.exportedTotal += count;
    this.counters.exported(count);
    if (this.failing) {
      this.failing = false;
      this.flushPending();
      this.log.info({ signal: this.signal, lost: this.lostInOutage }, `${this.signal} export recovered`);
      this.lostInOutage = 0;
    }
  }

  dropped(reason: DropReason, count: number, error?: unknown): void {
    if (count <= 0) return;
    this.droppedTotal += count;
    if (reason === 'queue_full') this.queueFullTotal += count;
    this.counters.dropped(reason, count);
    this.failing = true;
    this.lostInOutage += count;
    this.pending[reason] += count;
    if (error !== undefined) this.pendingError = describe(error);
    const now = this.now();
    if (now - this.lastLogAt >= this.intervalMs) this.flushPending();
    else this.timer ??= setTimeout(() => this.flushPending(), this.intervalMs - (now - this.lastLogAt)).unref();
  }

  /** The batch processor's queue length as this account sees it. */
  queued(): number {
    return this.handed - this.reachedExporter - this.queueFullTotal;
  }

  /** Writes the pending drop counts as one warning line. */
  flushPending(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const p = this.pending;
    const total = p.queue_full + p.export_failed + p.shutdown;
    if (total === 0) return;
    this.lastLogAt = this.now();
    const fields: Record<string, unknown> = { signal: this.signal, dropped: total, ...nonZero(p) };
    if (this.pendingError !== '') fields.error = this.pendingError;
    this.log.warn(fields, `${this.signal} dropped: export is failing or cannot keep up`);
    this.pending = { queue_full: 0, export_failed: 0, shutdown: 0 };
    this.pendingError = '';
  }

  /** Counts what was handed over and never reached an end (shutdown gave up on it). */
  abandon(): void {
    const left = this.handed - this.exportedTotal - this.droppedTotal;
    if (left > 0) this.dropped('shutdown', left);
    this.flushPending();
  }
}

function nonZero(p: Record<DropReason, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(p)) if (v > 0) out[k] = v;
  return out;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message.slice(0, 300);
  return String(error).slice(0, 300);
}

function onResult(account: ExportAccount, count: number, result: ExportResult): void {
  if (result.code === ExportResultCode.SUCCESS) account.exported(count);
  else account.dropped('export_failed', count, result.error ?? new Error('export failed'));
}

/** Wraps a span exporter: counts what reaches it and how each export ends. */
export function accountedSpanExporter(inner: SpanExporter, account: ExportAccount): SpanExporter {
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      account.reachedExporter += spans.length;
      inner.export(spans, (result) => {
        onResult(account, spans.length, result);
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

/** Wraps the batch span processor: counts spans handed to it, and those its full queue drops. */
export class AccountedSpanProcessor implements SpanProcessor {
  constructor(
    private readonly inner: SpanProcessor,
    private readonly account: ExportAccount,
    private readonly maxQueueSize: number,
  ) {}

  onStart(span: Span, parent: Context): void {
    this.inner.onStart(span, parent);
  }

  onEnd(span: ReadableSpan): void {
    if (this.account.queued() >= this.maxQueueSize) this.account.dropped('queue_full', 1);
    this.account.handed++;
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/** Wraps a log record exporter: counts what reaches it and how each export ends. */
export function accountedLogExporter(inner: LogRecordExporter, account: ExportAccount): LogRecordExporter {
  return {
    export(records: ReadableLogRecord[], done: (result: ExportResult) => void): void {
      account.reachedExporter += records.length;
      inner.export(records, (result) => {
        onResult(account, records.length, result);
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush(),
  };
}

/** Wraps the batch log record processor, like {@link AccountedSpanProcessor}. */
export class AccountedLogProcessor implements LogRecordProcessor {
  constructor(
    private readonly inner: LogRecordProcessor,
    private readonly account: ExportAccount,
    private readonly maxQueueSize: number,
  ) {}

  onEmit(record: SdkLogRecord, context?: Context): void {
    if (this.account.queued() >= this.maxQueueSize) this.account.dropped('queue_full', 1);
    this.account.handed++;
    this.inner.onEmit(record, context);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
