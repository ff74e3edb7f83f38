import type { TextMapPropagator } from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { B3Propagator } from '@opentelemetry/propagator-b3';
import type { Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { CheckTracer } from '../authz/seams.js';
import type { TelemetryConfig } from '../config/schema.js';
import { AccountedSpanProcessor, accountedSpanExporter, type ExportAccount } from './export-accounting.js';
import { buildResource } from './resource.js';
import type { SpanSink } from './span-record.js';
import { CORRELATION_TRACER } from './trace-headers.js';
import { OtelCheckTracer, type SpanGate } from './tracer.js';

/**
 * The OpenTelemetry SDK setup `serve` uses: OTLP/HTTP (protobuf) exporter, batching and propagation (the
 * deny-keeping sampling rule lives in {@link OtelCheckTracer}, which hands finished spans straight to the batch
 * processor: no tracer provider, sampler or live SDK span on the Check path, see span-record.ts). Only this file
 * sets up the SDK; the Check path sees a {@link CheckTracer}.
 *
 * Configuration: the config file's `telemetry.tracing` section, plus the standard environment variables, which
 * the SDK reads itself: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` (used when the
 * config sets no `endpoint`), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
 * `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_BSP_*` (batching), `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`
 * (these win over the config's `serviceName`; resource.ts builds the one resource every signal shares), and
 * `OTEL_SDK_DISABLED=true` / `OTEL_TRACES_EXPORTER=none` to turn tracing off. Exported and dropped spans are
 * counted and failures logged by export-accounting.ts.
 */

export type TracingConfig = TelemetryConfig['tracing'];

export interface TracingOptions {
  readonly version: string;
  /** Replaces the OTLP exporter (tests use an in-memory exporter). */
  readonly exporter?: SpanExporter;
  /** `simple` exports each span as it ends (tests); `batch` (default) batches off the Check path. */
  readonly processor?: 'batch' | 'simple';
  /** Random source for allows that arrive without a trace (tests freeze it). */
  readonly random?: () => number;
  /** Environment to read `OTEL_*` switches from; defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The process's one Resource (resource.ts); built from the config and `env` when not given. */
  readonly resource?: Resource;
  /** Counts exported and dropped spans, and says so in the service log. */
  readonly account?: ExportAccount;
  /** The deny rate limit (deny-limiter.ts). */
  readonly gate?: SpanGate;
}

export interface Tracing {
  readonly enabled: boolean;
  readonly tracer: CheckTracer;
  /** Exports every ended span now. */
  forceFlush(): Promise<void>;
  /** Flushes, then stops the exporter. */
  shutdown(): Promise<void>;
}

/** Reads W3C `traceparent`/`tracestate` and B3 (single `b3` header or multi `x-b3-*`); W3C wins when both. */
export function createPropagator(): TextMapPropagator {
  // CompositePropagator extracts in order, each on the previous result, so the last one found wins.
  return new CompositePropagator({ propagators: [new B3Propagator(), new W3CTraceContextPropagator()] });
}

function tracingDisabledByEnv(env: Readonly<Record<string, string | undefined>>): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return true;
  return (env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase() === 'none';
}

/**
 * Batching defaults sized for denial floods, each used only when its `OTEL_BSP_*` variable is unset: a queue of
 * 4096 spans (the SDK's 2048 filled up in the benchmark's 1,200 denies/s flood and dropped spans; every queued
 * span is memory held until export), batches of 256 exported as soon as they fill (a batch is serialized in one go on the
 * event loop: in the benchmark the Checks' p99 was 29–33 ms with batches of 1024, 21 ms with 256, 18 ms with
 * export switched off), and a 1 s delay so a fresh denial reaches the trace UI quickly.
 */
export function batching(env: Readonly<Record<string, string | undefined>>): {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
} {
  // Passed explicitly (the SDK would read process.env only), so the accounting knows the real queue size.
  const num = (name: string, fallback: number) => {
    const n = Number((env[name] ?? '').trim());
    return (env[name] ?? '').trim() !== '' && Number.isFinite(n) && n > 0 ? n : fallback;
  };
  return {
    maxQueueSize: num('OTEL_BSP_MAX_QUEUE_SIZE', 4096),
    maxExportBatchSize: num('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 256),
    scheduledDelayMillis: num('OTEL_BSP_SCHEDULE_DELAY', 1000),
  };
}

const NO_TRACING: Tracing = {
  enabled: false,
  tracer: CORRELATION_TRACER,
  forceFlush: async () => {},
  shutdown: async () => {},
};

/**
 * Builds tracing from config. When tracing is off the tracer still reads the caller's trace id from the headers
 * (no SDK, no spans), so decision log lines join the trace Envoy started.
 */
export function createTracing(config: TracingConfig, options: TracingOptions): Tracing {
  const env = options.env ?? process.env;
  if (!config.enabled || tracingDisabledByEnv(env)) return NO_TRACING;

  const otlp = options.exporter ?? new OTLPTraceExporter(config.endpoint === undefined ? {} : { url: config.endpoint });
  const account = options.account;
  const exporter = account === undefined ? otlp : accountedSpanExporter(otlp, account);
  const batch = batching(env);
  let processor: SpanProcessor =
    options.processor === 'simple' ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter, batch);
  if (account !== undefined) processor = new AccountedSpanProcessor(processor, account, batch.maxQueueSize);
  const sink: SpanSink = {
    processor,
    resource: options.resource ?? buildResource({ serviceName: config.serviceName, version: options.version, env }),
    scope: { name: 'mesh-authz', version: options.version },
  };
  // Every span the tracer builds is exported (it builds only those: denies, even in traces the caller did not
  // sample, and sampled allows), so there is no sampler; the span limits are applied in span-record.ts.
  const tracer = new OtelCheckTracer(sink, createPropagator(), config.allowSampleRate, options.random, options.gate);
  let stopped: Promise<void> | null = null;
  return {
    enabled: true,
    tracer,
    forceFlush: () => processor.forceFlush(),
    shutdown: () => {
      stopped ??= processor.shutdown();
      return stopped;
    },
  };
}
