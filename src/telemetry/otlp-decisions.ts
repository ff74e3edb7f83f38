import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { type AnyValue, type AnyValueMap, type Logger, SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import type { Resource } from '@opentelemetry/resources';
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  type LogRecordExporter,
  type LogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import { AccountedLogProcessor, accountedLogExporter, type ExportAccount } from './export-accounting.js';
import type { DecisionWriter } from './logger.js';
import type { DecisionRecord } from './record.js';

/**
 * Decision log records as OTLP log records (`telemetry.log.otlp.enabled`), beside the JSON lines, so a collector
 * gets decisions next to the traces. Each record has the decision log line's fields as attributes under the same
 * names (nested ones as maps), `event_name` `mesh_authz.decision`, and the trace and span ids set on the record
 * itself (a log backend links it to the span). Same secret-free allow-list: the attributes come from a
 * {@link DecisionRecord}, nothing else.
 *
 * Batching is the SDK's, off the Check path (records are built after the response, on the decision log's tick);
 * the queue is bounded and what it drops is counted like spans (`mesh_authz_otlp_log_records_dropped_total`).
 */

export const DECISION_EVENT = 'mesh_authz.decision';
const QUEUE = 8192;
const BATCH = 512;

export interface OtlpDecisionSink {
  readonly writer: DecisionWriter;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface OtlpLogsOptions {
  readonly endpoint?: string;
  readonly resource: Resource;
  readonly account?: ExportAccount;
  /** Replaces the OTLP exporter (tests). */
  readonly exporter?: LogRecordExporter;
  /** Scope name; one provider per stream. */
  readonly scope: string;
}

/** A LoggerProvider with the process resource, a bounded batch processor and export accounting. */
export function createOtlpLogs(options: OtlpLogsOptions): { logger: Logger; provider: LoggerProvider } {
  const otlp = options.exporter ?? new OTLPLogExporter(options.endpoint === undefined ? {} : { url: options.endpoint });
  const account = options.account;
  const exporter = account === undefined ? otlp : accountedLogExporter(otlp, account);
  let processor: LogRecordProcessor = new BatchLogRecordProcessor({
    exporter,
    maxQueueSize: QUEUE,
    maxExportBatchSize: BATCH,
  });
  if (account !== undefined) processor = new AccountedLogProcessor(processor, account, QUEUE);
  const provider = new LoggerProvider({ resource: options.resource, processors: [processor] });
  return { logger: provider.getLogger(options.scope), provider };
}

function toAnyValue(value: unknown): AnyValue {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(toAnyValue);
  if (typeof value === 'object') {
    const map: AnyValueMap = {};
    for (const [k, v] of Object.entries(value)) map[k] = toAnyValue(v);
    return map;
  }
  return value as AnyValue;
}

export function createOtlpDecisionSink(options: Omit<OtlpLogsOptions, 'scope'>): OtlpDecisionSink {
  const { logger, provider } = createOtlpLogs({ ...options, scope: 'mesh-authz.decisions' });
  const writer: DecisionWriter = {
    write(record: DecisionRecord): void {
      const attributes: AnyValueMap = {};
      for (const [k, v] of Object.entries(record)) {
        // null fields are left out (OTLP has no null attribute; absent means the same).
        if (v !== null && v !== undefined) attributes[k] = toAnyValue(v);
      }
      const context =
        record.trace_id !== '' && record.span_id !== ''
          ? trace.setSpanContext(ROOT_CONTEXT, {
              traceId: record.trace_id,
              spanId: record.span_id,
              traceFlags: TraceFlags.SAMPLED,
            })
          : undefined;
      logger.emit({
        eventName: DECISION_EVENT,
        severityNumber: record.allowed ? SeverityNumber.INFO : SeverityNumber.WARN,
        severityText: record.allowed ? 'INFO' : 'WARN',
        body: `${record.allowed ? 'allow' : 'deny'} ${record.status} ${record.reason_code}: ${record.reason}`,
        attributes,
        ...(context === undefined ? {} : { context }),
      });
    },
  };
  return { writer, forceFlush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}

/** Writes each record to every writer; one failing does not stop the others. */
export function teeWriter(writers: readonly DecisionWriter[]): DecisionWriter {
  if (writers.length === 1) return writers[0]!;
  return {
    write(record: DecisionRecord): void {
      let failure: unknown = null;
      for (const w of writers) {
        try {
          w.write(record);
        } catch (err) {
          failure = err;
        }
      }
      if (failure !== null) throw failure;
    },
  };
}
