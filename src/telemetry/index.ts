/**
 * Observability for mesh-authz: the service logger, the decision log, OpenTelemetry tracing and Prometheus
 * metrics, wired to the Check pipeline through its seams (`CheckTracer`, `DecisionObserver`).
 *
 * `serve` calls {@link createTelemetry} once and hands `tracer` and `observer` to the `CheckPipeline`, `logger`
 * to the server, and `metrics.handleMetrics` to the admin listener's `/metrics` route; it reports policy loads
 * to `metrics` and calls `shutdown()` last, to flush logs and exported spans.
 *
 * @packageDocumentation
 */
import type { Logger } from 'pino';
import type { CheckOutcome } from '../authz/outcome.js';
import type { CheckSpan, CheckTracer, DecisionObserver } from '../authz/seams.js';
import type { TelemetryConfig } from '../config/schema.js';
import type { PathNormalization } from '../policy/normalize.js';
import type { ServiceParts } from '../server/service.js';
import { DecisionLog } from './decision-log.js';
import { createLogger } from './logger.js';
import { ServiceMetrics } from './metrics.js';
import { createTracing, type TracingOptions } from './tracing.js';

export { ATTR, CHECK_SPAN_NAME } from './attributes.js';
export { DecisionLog, type DecisionLogMode, type DecisionLogOptions } from './decision-log.js';
export { createLogger, type DecisionWriter, type LogConfig, type LogOutputs } from './logger.js';
export { type MetricsOptions, ServiceMetrics } from './metrics.js';
export { type DecisionRecord, isWouldDeny, policyName, type ShadowRecord, toDecisionRecord } from './record.js';
export { type CallerTrace, CORRELATION_TRACER, callerTraceId, readCallerTrace } from './trace-headers.js';
export { OtelCheckTracer, spanAttributes, traceIdUnderRate } from './tracer.js';
export { createPropagator, createTracing, type Tracing, type TracingConfig, type TracingOptions } from './tracing.js';

export interface TelemetryOptions {
  /** The mesh-authz version (resource attribute, log field, build-info metric). */
  readonly version: string;
  /** Where log lines go instead of `telemetry.log.destination` (tests capture them here). */
  readonly logDestination?: NodeJS.WritableStream;
  /** Replaces the OTLP exporter (tests). */
  readonly spanExporter?: TracingOptions['exporter'];
  /** Environment for the `OTEL_*` switches; defaults to `process.env`. */
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
  /** Writes queued decision lines and exports ended spans now. */
  flush(): Promise<void>;
  /** Flushes, then stops the exporters. Safe to call more than once. */
  shutdown(): Promise<void>;
}

/** Sets up logging, tracing and metrics from the `telemetry` config section. */
export async function createTelemetry(config: TelemetryConfig, options: TelemetryOptions): Promise<Telemetry> {
  const log = createLogger(config.log, { version: options.version, destination: options.logDestination });
  const metrics = new ServiceMetrics({ version: options.version, enabled: config.metrics.enabled });
  const decisionLog = new DecisionLog(log.decisions, {
    mode: config.log.decisions,
    allowSampleRate: config.log.allowSampleRate,
    onDropped: (n) => metrics.decisionLogDropped(n),
    warn: (message, fields) => log.logger.warn(fields, message),
    random: options.random,
    pathNormalization: options.pathNormalization,
  });
  const tracing = createTracing(config.tracing, {
    version: options.version,
    exporter: options.spanExporter,
    env: options.env,
    random: options.random,
  });
  const observer: DecisionObserver = {
    onDecision(outcome: CheckOutcome, span: CheckSpan): void {
      metrics.onDecision(outcome, span);
      decisionLog.onDecision(outcome, span);
    },
  };
  const flush = async () => {
    decisionLog.drain();
    await Promise.all([tracing.forceFlush(), log.flush()]);
  };
  let stopped: Promise<void> | null = null;
  return {
    logger: log.logger,
    tracer: tracing.tracer,
    observer,
    metrics,
    decisionLog,
    tracingEnabled: tracing.enabled,
    flush,
    shutdown: () => {
      stopped ??= (async () => {
        decisionLog.drain();
        await tracing.shutdown();
        await log.close();
      })();
      return stopped;
    },
  };
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
