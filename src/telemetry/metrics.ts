import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { CheckOutcome } from '../authz/outcome.js';
import type { CheckSpan, DecisionObserver } from '../authz/seams.js';
import { DecisionCounts, FastHistogram, type HistogramSeries } from './accumulators.js';
import { ExportMetrics } from './export-metrics.js';
import { GrpcServerMetrics } from './grpc-metrics.js';
import { OPENMETRICS_CONTENT_TYPE, toOpenMetrics, wantsOpenMetrics } from './openmetrics.js';

/**
 * Prometheus metrics, in a dedicated {@link Registry} (never prom-client's global one, so tests and embedders can
 * run several instances side by side).
 *
 * Cardinality is bounded by construction: labels only take values from closed sets (result, status, phase,
 * identity error codes) or from the loaded policy set (`policy` = `namespace/name`). Paths, principals, users
 * and decision ids never become labels; they belong in the decision log and the span.
 */

/** Check latency buckets, in seconds: a Check is tens of µs on a cache hit and well under 10 ms otherwise. */
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** Reason codes are identifiers we define; anything else (should never happen) collapses into one label value. */
const REASON_LABEL = /^[a-z][a-z0-9_]{0,47}$/;

/** prom-client default gauges whose names break Prometheus naming rules. */
const MISNAMED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

type DecisionLabels = 'result' | 'status' | 'policy' | 'dry_run';

const STREAM_RESET_REASONS = ['connection_cap', 'total_cap', 'message_timeout', 'no_preface'] as const;
/** Monotonic counts of guard resets by reason (the transport owns them; metrics only read). */
export type StreamResetCounts = Readonly<Record<(typeof STREAM_RESET_REASONS)[number], number>>;

export interface MetricsOptions {
  readonly version: string;
  /** Also export Node.js process metrics (`process_*`, `nodejs_*`). Default true. */
  readonly processMetrics?: boolean;
  /** `telemetry.metrics.enabled`: when false nothing is counted and `/metrics` answers 404. Default true. */
  readonly enabled?: boolean;
  /** The OpenTelemetry resource attributes (resource.ts), served as `target_info`. */
  readonly resource?: Readonly<Record<string, string>>;
}

/** The metrics the server and the Check path update, and the `/metrics` route that serves them. */
export class ServiceMetrics implements DecisionObserver {
  readonly registry = new Registry();
  readonly enabled: boolean;
  private readonly decisionCounts = new DecisionCounts();
  private pendingCacheHits = 0;
  private pendingCacheMisses = 0;
  private readonly identityFailures: Counter<'reason'>;
  private readonly generation: Gauge;
  private readonly reloads: Counter;
  private readonly reloadFailures: Counter;
  private readonly reloadRefusals: Counter<'reason'>;
  private readonly uncovered: Gauge;
  private readonly allowLatency: HistogramSeries;
  private readonly denyLatency: HistogramSeries;
  private readonly latency: FastHistogram<'result'>;
  private readonly grpc: GrpcServerMetrics;
  /** Telemetry's own delivery counters (spans, decision log, OTLP logs). */
  readonly exports: ExportMetrics;

  constructor(options: MetricsOptions) {
    this.enabled = options.enabled ?? true;
    const registers = [this.registry];
    const counts = this.decisionCounts;
    new Counter<DecisionLabels>({
      name: 'mesh_authz_decisions_total',
      help: 'Check decisions by result (allow/deny), gRPC status, deciding policy (namespace/name) and dry-run.',
      labelNames: ['result', 'status', 'policy', 'dry_run'],
      registers,
      collect() {
        counts.flush(this);
      },
    });
    const latency = new FastHistogram(
      'mesh_authz_check_duration_seconds',
      'Time to decide one Check, from request to response, in seconds.',
      'result',
      LATENCY_BUCKETS,
      ['allow', 'deny'],
    );
    this.registry.registerMetric(latency.asMetric());
    this.latency = latency;
    this.allowLatency = latency.seriesFor('allow');
    this.denyLatency = latency.seriesFor('deny');
    this.identityFailures = new Counter({
      name: 'mesh_authz_identity_failures_total',
      help: 'Checks denied UNAUTHENTICATED, by identity error code.',
      labelNames: ['reason'],
      registers,
    });
    const takeHits = () => {
      const n = this.pendingCacheHits;
      this.pendingCacheHits = 0;
      return n;
    };
    const takeMisses = () => {
      const n = this.pendingCacheMisses;
      this.pendingCacheMisses = 0;
      return n;
    };
    new Counter({
      name: 'mesh_authz_decision_cache_hits_total',
      help: 'Decisions served from the decision cache.',
      registers,
      collect() {
        this.inc(takeHits());
      },
    });
    new Counter({
      name: 'mesh_authz_decision_cache_misses_total',
      help: 'Decisions evaluated because the decision cache had no entry.',
      registers,
      collect() {
        this.inc(takeMisses());
      },
    });
    this.generation = new Gauge({
      name: 'mesh_authz_policy_generation',
      help: 'Generation number of the policy set currently serving.',
      // With server.workers > 1 the primary sums the workers' metrics; a generation is not a sum: the lowest one
      // says which set every worker serves at least.
      aggregator: 'min',
      registers,
    });
    this.reloads = new Counter({
      name: 'mesh_authz_policy_reloads_total',
      help: 'Policy sets loaded and swapped in successfully.',
      registers,
    });
    this.reloadFailures = new Counter({
      name: 'mesh_authz_policy_reload_failures_total',
      help: 'Policy changes refused (invalid); the last good set kept serving.',
      registers,
    });
    this.reloadRefusals = new Counter({
      name: 'mesh_authz_policy_reload_refusals_total',
      help: 'Valid policy changes refused because they would drop every policy of a namespace (policy.allowEmpty); the last good set kept serving.',
      labelNames: ['reason'],
      registers,
    });
    this.uncovered = new Gauge({
      name: 'mesh_authz_workloads_without_allow',
      help: 'Known workloads that no ALLOW policy selects (microsegmentation coverage gaps).',
      aggregator: 'max',
      registers,
    });
    this.grpc = new GrpcServerMetrics(this.registry);
    this.exports = new ExportMetrics(this.registry, options.resource ?? {});
    new Gauge({
      name: 'mesh_authz_build_info',
      help: 'Always 1; the version label says which build is running.',
      labelNames: ['version'],
      aggregator: 'first',
      registers,
    }).set({ version: options.version }, 1);
    if (this.enabled && (options.processMetrics ?? true)) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client names these gauges `*_total`, which Prometheus reserves for counters (promtool flags them).
      for (const name of MISNAMED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
  }

  /** DecisionObserver: counts the decision, its latency, identity failures and cache use. */
  onDecision(outcome: CheckOutcome, span: CheckSpan): void {
    if (!this.enabled) return;
    this.decisionCounts.add(outcome.decision?.policy, outcome.status, outcome.allowed, outcome.dryRun);
    const seconds = outcome.durationUs / 1e6;
    const latency = outcome.allowed ? this.allowLatency : this.denyLatency;
    // An exemplar only links to a span that was exported (spanId is '' otherwise).
    const spanId = span.spanId;
    if (spanId === '') latency.observe(seconds);
    else latency.observeTraced(seconds, span.traceId, spanId);
    this.grpc.onCheck(seconds);
    if (outcome.phase === 'identity') {
      this.identityFailures.inc({ reason: REASON_LABEL.test(outcome.reasonCode) ? outcome.reasonCode : 'other' });
    } else if (outcome.phase === 'decision') {
      if (outcome.cacheHit) this.pendingCacheHits++;
      else this.pendingCacheMisses++;
    }
  }

  /** A new policy set is serving. */
  policyLoaded(generation: number): void {
    this.generation.set(generation);
    this.reloads.inc();
  }

  /** A policy change was refused; the previous set keeps serving. */
  policyReloadFailed(): void {
    this.reloadFailures.inc();
  }

  /** A valid policy change was refused (it would drop a whole namespace); the previous set keeps serving. */
  policyReloadRefused(reason: string): void {
    this.reloadRefusals.inc({ reason: REASON_LABEL.test(reason) ? reason : 'other' });
  }

  /**
   * Streams the transport's connection guard reset (a hostile or broken client), read from its counters at scrape
   * time: `reason` is `connection_cap`, `total_cap`, `message_timeout` or `no_preface` (a whole connection). Call once, when the server exists.
   */
  countStreamResets(read: () => StreamResetCounts): void {
    let seen: StreamResetCounts = { connection_cap: 0, total_cap: 0, message_timeout: 0, no_preface: 0 };
    new Counter({
      name: 'mesh_authz_stream_resets_total',
      help: 'Check streams reset by the connection guard: too many unfinished bytes buffered on one connection (connection_cap) or in all (total_cap), a message unfinished past its timeout (message_timeout), or connections closed because the HTTP/2 preface never came (no_preface).',
      labelNames: ['reason'],
      registers: [this.registry],
      collect() {
        const now = read();
        for (const reason of STREAM_RESET_REASONS) this.inc({ reason }, now[reason] - seen[reason]);
        seen = { ...now };
      },
    });
  }

  /** How many known workloads no ALLOW policy selects. */
  setUncoveredWorkloads(count: number): void {
    this.uncovered.set(count);
  }

  /** The decision log dropped lines under overload. */
  decisionLogDropped(count = 1): void {
    this.exports.decisionLogLost('queue_full', count);
  }

  /** The Prometheus text exposition content type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** OpenMetrics 1.0, with trace exemplars on the check-latency buckets. */
  async renderOpenMetrics(): Promise<string> {
    const latency = this.latency;
    return toOpenMetrics(await this.render(), {
      [latency.name]: (labels) => latency.exemplar(labels.result ?? '', labels.le ?? ''),
    });
  }

  /**
   * The admin listener's `GET /metrics` handler: Prometheus text format, or OpenMetrics (with exemplars) when the
   * scraper's Accept header asks for it.
   */
  async handleMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.enabled) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('metrics are disabled (telemetry.metrics.enabled: false)\n');
      return;
    }
    try {
      const open = wantsOpenMetrics(req.headers.accept);
      const body = open ? await this.renderOpenMetrics() : await this.render();
      const type = open ? OPENMETRICS_CONTENT_TYPE : this.contentType;
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('metrics collection failed\n');
    }
  }
}
