/**
 * Observability for mesh-authz: the service logger, the decision log, OpenTelemetry tracing and Prometheus
 * metrics, wired to the Check pipeline through its seams (`CheckTracer`, `DecisionObserver`).
 *
 * `serve` calls {@link createTelemetry} once and hands `tracer` and `observer` to the `CheckPipeline`, `logger`
 * to the server, and `metrics.handleMetrics` to the admin listener's `/metrics` route; it reports policy loads
 * to `metrics` and calls `shutdown(timeoutMs)` last, to flush logs, spans and OTLP log records within the drain
 * budget. Every signal carries one resource (resource.ts); what export delivers and loses is counted and logged
 * (export-accounting.ts); a flood of denies is rate-limited per (policy, reason) (deny-limiter.ts).
 *
 * @packageDocumentation
 */
import type { Resource } from '@opentelemetry/resources';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { Logger } from 'pino';
import type { CheckOutcome } from '../authz/outcome.js';
import type { CheckSpan, CheckTracer, DecisionObserver } from '../authz/seams.js';
import type { TelemetryConfig } from '../config/schema.js';
import type { PathNormalization } from '../policy/normalize.js';
import type { ServiceParts } from '../server/service.js';
import { DecisionLog } from './decision-log.js';
import { DenyLimiter, type SuppressedReport, SWEEP_MS } from './deny-limiter.js';
import { ExportAccount, type ExportLog } from './export-accounting.js';
import { createLogger } from './logger.js';
import { ServiceMetrics } from './metrics.js';
import { createOtlpDecisionSink, type OtlpDecisionSink, teeWriter } from './otlp-decisions.js';
import { buildResourceFrom, resourceAttributes } from './resource.js';
import { createTracing, type TracingOptions } from './tracing.js';

export { ATTR, CHECK_SPAN_NAME, RPC_METHOD, RPC_SERVICE } from './attributes.js';
export { DecisionLog, type DecisionLogMode, type DecisionLogOptions } from './decision-log.js';
export { type DenyLimit, DenyLimiter, type Suppressed, type SuppressedReport } from './deny-limiter.js';
export { ExportAccount, type ExportCounters, type ExportLog } from './export-accounting.js';
export { createLogger, type DecisionWriter, type LogConfig, type LogOutputs } from './logger.js';
export { type MetricsOptions, ServiceMetrics } from './metrics.js';
export { createOtlpDecisionSink, createOtlpLogs, DECISION_EVENT } from './otlp-decisions.js';
export { type DecisionRecord, isWouldDeny, type ShadowRecord, toDecisionRecord } from './record.js';
export { buildResource, K8S_ENV, resourceAttributes } from './resource.js';
export { type CallerTrace, CORRELATION_TRACER, callerTraceId, readCallerTrace } from './trace-headers.js';
export { OtelCheckTracer, spanAttributes, traceIdUnderRate } from './tracer.js';
export { createPropagator, createTracing, type Tracing, type TracingConfig, type TracingOptions } from './tracing.js';

export interface TelemetryOptions {
  /** The mesh-authz version (resource attribute, log field, build-info metric). */
  readonly version: string;
  /** Where log lines go instead of `telemetry.log.destination` (tests capture them here). */
  readonly logDestination?: NodeJS.WritableStream;
  /** Replaces the OTLP span exporter (tests). */
  readonly spanExporter?: TracingOptions['exporter'];
  /** Replaces the OTLP log exporter of decision records (tests). */
  readonly logExporter?: LogRecordExporter;
  /** Environment for the `OTEL_*` switches and the downward-API `K8S_*` variables; defaults to `process.env`. */
  readonly env?: TracingOptions['env'];
  /** The policies' path normalization, for the decision log's `normalized_path`. */
  readonly pathNormalization?: PathNormalization;
  /** Random source for sampling allows in the decision log and untraced requests' spans (tests freeze it). */
  readonly random?: () => number;
}

export interface Telemetry {
  /** The service logger (pino). */
  readonly logger: Logger;
  /** For `CheckPipeline`'s `tracer` option. */
  readonly tracer: CheckTracer;
  /** For `CheckPipeline`'s `observers`: decision log + metrics. */
  readonly observer: DecisionObserver;
  readonly metrics: ServiceMetrics;
  readonly decisionLog: DecisionLog;
  readonly tracingEnabled: boolean;
  /** The one OpenTelemetry resource of every signal (discovery's OTLP flow logs use it too). */
  readonly resource: Resource;
  /** Export accounting for another OTLP log stream (discovery's flows). */
  readonly flowLogAccount: ExportAccount;
  /** Writes queued decision lines and exports ended spans and log records now. Never rejects. */
  flush(): Promise<void>;
  /**
   * Flushes, then stops the exporters. A collector that does not answer within `timeoutMs` is given up on: what
   * is left is counted as dropped (`reason="shutdown"`) and said in the log, so a hung collector cannot hold a
   * terminating pod. Safe to call more than once.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** Sets up logging, tracing and metrics from the `telemetry` config section. */
export async function createTelemetry(config: TelemetryConfig, options: TelemetryOptions): Promise<Telemetry> {
  const env = options.env ?? process.env;
  const attrs = resourceAttributes({ serviceName: config.tracing.serviceName, version: options.version, env });
  const resource = buildResourceFrom(attrs);
  const log = createLogger(config.log, { version: options.version, destination: options.logDestination });
  const metrics = new ServiceMetrics({ version: options.version, enabled: config.metrics.enabled, resource: attrs });
  const exportLog: ExportLog = {
    warn: (fields, message) => log.logger.warn(fields, message),
    info: (fields, message) => log.logger.info(fields, message),
  };
  const spanAccount = new ExportAccount('spans', metrics.exports.spans, exportLog);
  const flowLogAccount = new ExportAccount('OTLP flow log records', metrics.exports.logStream('flows'), exportLog);
  const limiter = new DenyLimiter(config.denyRateLimit, () => metrics.exports.suppressedDeny());
  let otlpLogs: OtlpDecisionSink | null = null;
  let otlpAccount: ExportAccount | null = null;
  if (config.log.otlp.enabled && config.log.decisions !== 'none') {
    otlpAccount = new ExportAccount('OTLP decision log records', metrics.exports.logStream('decisions'), exportLog);
    otlpLogs = createOtlpDecisionSink({
      ...(config.log.otlp.endpoint === undefined ? {} : { endpoint: config.log.otlp.endpoint }),
      resource,
      account: otlpAccount,
      ...(options.logExporter === undefined ? {} : { exporter: options.logExporter }),
    });
  }
  const decisionLog = new DecisionLog(teeWriter(otlpLogs ? [log.decisions, otlpLogs.writer] : [log.decisions]), {
    mode: config.log.decisions,
    allowSampleRate: config.log.allowSampleRate,
    onDropped: (n) => metrics.decisionLogDropped(n),
    onWritten: (n) => metrics.exports.decisionLogLines(n),
    onWriteFailed: (n) => metrics.exports.decisionLogLost('write_failed', n),
    warn: (message, fields) => log.logger.warn(fields, message),
    random: options.random,
    pathNormalization: options.pathNormalization,
    limiter,
  });
  const tracing = createTracing(config.tracing, {
    version: options.version,
    exporter: options.spanExporter,
    env,
    random: options.random,
    resource,
    account: spanAccount,
    gate: (outcome) => limiter.verdict(outcome),
  });
  const reportSuppressed = (reports: SuppressedReport[]) => {
    for (const r of reports) {
      const { count, first_decision_id, last_decision_id, ...key } = r;
      log.logger.warn(
        { log: 'decision-suppressed', ...key, suppressed: { count, first_decision_id, last_decision_id } },
        'denies left without span and decision log line by the deny rate limit',
      );
    }
  };
  const sweep = limiter.enabled ? setInterval(() => reportSuppressed(limiter.sweep()), SWEEP_MS).unref() : null;
  const observer: DecisionObserver = {
    onDecision(outcome: CheckOutcome, span: CheckSpan): void {
      metrics.onDecision(outcome, span);
      decisionLog.onDecision(outcome, span);
    },
  };
  const flush = async () => {
    decisionLog.drain();
    // Settled, not all: a failing collector is counted and logged by the export accounting, not thrown here.
    await Promise.allSettled([tracing.forceFlush(), otlpLogs?.forceFlush(), log.flush()]);
  };
  const stopExporters = async () => {
    decisionLog.drain();
    await Promise.allSettled([tracing.shutdown(), otlpLogs?.shutdown()]);
  };
  let stopped: Promise<void> | null = null;
  return {
    logger: log.logger,
    tracer: tracing.tracer,
    observer,
    metrics,
    decisionLog,
    tracingEnabled: tracing.enabled,
    resource,
    flowLogAccount,
    flush,
    shutdown: (timeoutMs) => {
      stopped ??= (async () => {
        if (sweep !== null) clearInterval(sweep);
        reportSuppressed(limiter.sweep(true));
        const finished = await withinTime(stopExporters(), timeoutMs);
        if (!finished) {
          log.logger.warn({ timeoutMs }, 'telemetry shutdown: the collector did not answer in time; giving up');
          spanAccount.abandon();
          otlpAccount?.abandon();
        }
        spanAccount.flushPending();
        otlpAccount?.flushPending();
        await log.close();
      })();
      return stopped;
    },
  };
}

/** True when `work` settled within `timeoutMs` (no bound when undefined). */
async function withinTime(work: Promise<unknown>, timeoutMs: number | undefined): Promise<boolean> {
  if (timeoutMs === undefined) {
    await work;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const done = work.then(
    () => true as const,
    () => true as const,
  );
  const result = await Promise.race([done, timeout]);
  clearTimeout(timer);
  return result;
}

/**
 * The parts of an `AuthzService` telemetry provides: its logger, the tracer, the observer, the admin `/metrics`
 * route, and a flush of logs and spans once the service has closed. `serve` spreads these into the service parts.
 */
export function telemetryServiceParts(
  telemetry: Telemetry,
): Required<Pick<ServiceParts, 'logger' | 'tracer' | 'observers' | 'adminRoutes' | 'onClosed'>> {
  return {
    logger: telemetry.logger,
    tracer: telemetry.tracer,
    observers: [telemetry.observer],
    adminRoutes: { '/metrics': (req, res) => telemetry.metrics.handleMetrics(req, res) },
    onClosed: () => telemetry.shutdown(),
  };
}
