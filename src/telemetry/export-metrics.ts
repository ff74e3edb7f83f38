import { Counter, Gauge, type Registry } from 'prom-client';
import type { DropReason, ExportCounters } from './export-accounting.js';

/**
 * What telemetry itself delivered and lost, one pair of counters per signal:
 * - spans: `mesh_authz_spans_exported_total`, `mesh_authz_spans_dropped_total{reason}`
 *   (`queue_full`, `export_failed`, `shutdown`);
 * - the decision log (JSON lines): `mesh_authz_decision_log_written_total`,
 *   `mesh_authz_decision_log_dropped_total{reason}` (`queue_full`, `write_failed`);
 * - OTLP log records: `mesh_authz_otlp_log_records_exported_total{stream}`,
 *   `mesh_authz_otlp_log_records_dropped_total{stream,reason}` (`stream` = `decisions` or `flows`);
 * - `mesh_authz_deny_telemetry_suppressed_total`: denies the deny rate limit left without span and log line;
 * - `target_info`: the OpenTelemetry resource as labels (dots become underscores), as the OpenTelemetry
 *   Prometheus compatibility spec names it, so metrics join traces and logs of the same process.
 */

export const SPAN_DROP_REASONS: readonly DropReason[] = ['queue_full', 'export_failed', 'shutdown'];
export type LogStream = 'decisions' | 'flows';

export class ExportMetrics {
  readonly spans: ExportCounters;
  private readonly logRecords = new Map<LogStream, ExportCounters>();
  private readonly decisionLogWritten: Counter;
  private readonly decisionLogDropped: Counter<'reason'>;
  private suppressed = 0;

  constructor(registry: Registry, resource: Readonly<Record<string, string>>) {
    const registers = [registry];
    const spansExported = new Counter({
      name: 'mesh_authz_spans_exported_total',
      help: 'Check spans the OTLP exporter delivered.',
      registers,
    });
    const spansDropped = new Counter({
      name: 'mesh_authz_spans_dropped_total',
      help: 'Check spans lost: queue_full (export could not keep up), export_failed (collector down or refusing), shutdown.',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of SPAN_DROP_REASONS) spansDropped.inc({ reason }, 0);
    this.spans = {
      exported: (n) => spansExported.inc(n),
      dropped: (reason, n) => spansDropped.inc({ reason }, n),
    };
    const logExported = new Counter({
      name: 'mesh_authz_otlp_log_records_exported_total',
      help: 'OTLP log records delivered, by stream (decisions, flows).',
      labelNames: ['stream'],
      registers,
    });
    const logDropped = new Counter({
      name: 'mesh_authz_otlp_log_records_dropped_total',
      help: 'OTLP log records lost, by stream and reason (queue_full, export_failed, shutdown).',
      labelNames: ['stream', 'reason'],
      registers,
    });
    for (const stream of ['decisions', 'flows'] as const) {
      logExported.inc({ stream }, 0);
      for (const reason of SPAN_DROP_REASONS) logDropped.inc({ stream, reason }, 0);
      this.logRecords.set(stream, {
        exported: (n) => logExported.inc({ stream }, n),
        dropped: (reason, n) => logDropped.inc({ stream, reason }, n),
      });
    }
    this.decisionLogWritten = new Counter({
      name: 'mesh_authz_decision_log_written_total',
      help: 'Decision log lines written (JSON lines on telemetry.log.destination).',
      registers,
    });
    this.decisionLogDropped = new Counter({
      name: 'mesh_authz_decision_log_dropped_total',
      help: 'Decision log lines lost: queue_full (the Check path never waits for logging), write_failed.',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['queue_full', 'write_failed']) this.decisionLogDropped.inc({ reason }, 0);
    const take = () => {
      const n = this.suppressed;
      this.suppressed = 0;
      return n;
    };
    new Counter({
      name: 'mesh_authz_deny_telemetry_suppressed_total',
      help: 'Denies left without span and decision log line by the deny rate limit (telemetry.denyRateLimit).',
      registers,
      collect() {
        this.inc(take());
      },
    });
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(resource)) labels[k.replace(/[^a-zA-Z0-9_]/g, '_')] = v;
    new Gauge({
      name: 'target_info',
      help: 'Target metadata: the OpenTelemetry resource of this process.',
      labelNames: Object.keys(labels),
      aggregator: 'first',
      registers,
    }).set(labels, 1);
  }

  logStream(stream: LogStream): ExportCounters {
    return this.logRecords.get(stream)!;
  }

  decisionLogLines(written: number): void {
    this.decisionLogWritten.inc(written);
  }

  decisionLogLost(reason: 'queue_full' | 'write_failed', count: number): void {
    this.decisionLogDropped.inc({ reason }, count);
  }

  /** A deny the rate limit left out (hot path under a flood: a plain increment). */
  suppressedDeny(): void {
    this.suppressed++;
  }
}
