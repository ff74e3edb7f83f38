import type { Counter, Metric, MetricObjectWithValues, MetricType, MetricValueWithName } from 'prom-client';
import type { CheckStatus } from '../authz/outcome.js';
import { type PolicyRef, policyName } from '../policy/types.js';

/**
 * Hot-path accumulators behind the Prometheus metrics.
 *
 * Speed: prom-client validates and hashes the label set on every `inc()`/`observe()` (about 1 µs each), which is
 * a measurable share of a Check. Here a Check only bumps a slot in a typed array; the totals are handed to
 * prom-client when Prometheus scrapes (`collect`), where the cost is per label set, not per request.
 */

const STATUS_INDEX: Readonly<Record<CheckStatus, number>> = {
  OK: 0,
  PERMISSION_DENIED: 1,
  UNAUTHENTICATED: 2,
  UNAVAILABLE: 3,
};
const STATUSES = Object.keys(STATUS_INDEX) as CheckStatus[];
/** Slots per policy: status (4) × allowed (2) × dry-run (2). */
const SLOTS = 16;

/** Decision counts by (policy, status, result, dry-run), flushed into a labelled prom-client counter. */
export class DecisionCounts {
  /** Policy name → pending counts since the last scrape ('' = no deciding policy). */
  private pending = new Map<string, Float64Array>();
  /** PolicyRef objects are stable per compiled set: name them once, not per request. */
  private readonly names = new WeakMap<PolicyRef, string>();

  add(policy: PolicyRef | null | undefined, status: CheckStatus, allowed: boolean, dryRun: boolean): void {
    let name = '';
    if (policy) {
      name = this.names.get(policy) ?? '';
      if (name === '') {
        name = policyName(policy);
        this.names.set(policy, name);
      }
    }
    let slots = this.pending.get(name);
    if (slots === undefined) {
      slots = new Float64Array(SLOTS);
      this.pending.set(name, slots);
    }
    slots[STATUS_INDEX[status] * 4 + (allowed ? 2 : 0) + (dryRun ? 1 : 0)]! += 1;
  }

  /** Adds the pending counts to `counter` and starts over (so the map holds only what changed since). */
  flush(counter: Counter<'result' | 'status' | 'policy' | 'dry_run'>): void {
    const pending = this.pending;
    this.pending = new Map();
    for (const [policy, slots] of pending) {
      for (let i = 0; i < SLOTS; i++) {
        const n = slots[i]!;
        if (n === 0) continue;
        const status = STATUSES[i >> 2]!;
        counter.inc({ result: i & 2 ? 'allow' : 'deny', status, policy, dry_run: i & 1 ? 'true' : 'false' }, n);
      }
    }
  }
}

interface Series {
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
  /** Per bucket, the latest observation that has an exported span: an OpenMetrics exemplar. */
  exemplars: (Exemplar | undefined)[] | null;
}

/** An observation linked to its trace, served as an OpenMetrics exemplar. */
export interface Exemplar {
  readonly traceId: string;
  readonly spanId: string;
  readonly value: number;
  /** Seconds since the epoch. */
  readonly timestamp: number;
}

/** One histogram series: `observe` on the hot path; `observeTraced` when the observation has an exported span. */
export interface HistogramSeries {
  observe(value: number): void;
  observeTraced(value: number, traceId: string, spanId: string): void;
}

/**
 * A Prometheus histogram with one label, recorded into plain arrays. Registered in a prom-client Registry as a
 * custom metric: the Registry only calls `get()` (to render) and `reset()`.
 */
export class FastHistogram<L extends string> {
  /** The text format's type name (prom-client types this as a numeric enum it never defines at runtime). */
  readonly type = 'histogram' as unknown as MetricType;
  readonly aggregator = 'sum' as const;
  private readonly series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelName: L,
    private readonly buckets: readonly number[],
    initialLabels: readonly string[] = [],
    /** Labels every series carries (e.g. the gRPC method of `grpc_server_handling_seconds`). */
    private readonly constLabels: Readonly<Record<string, string>> = {},
  ) {
    for (const value of initialLabels) this.seriesFor(value);
  }

  /** The series for one label value; keep it to observe without a lookup. */
  seriesFor(labelValue: string): HistogramSeries {
    let s = this.series.get(labelValue);
    if (s === undefined) {
      s = { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0, exemplars: null };
      this.series.set(labelValue, s);
    }
    const series = s;
    const buckets = this.buckets;
    const observe = (value: number): number => {
      let i = 0;
      while (i < buckets.length && value > buckets[i]!) i++;
      series.counts[i]! += 1;
      series.sum += value;
      series.count += 1;
      return i;
    };
    return {
      observe,
      observeTraced(value: number, traceId: string, spanId: string): void {
        const i = observe(value);
        series.exemplars ??= new Array(buckets.length + 1);
        series.exemplars[i] = { traceId, spanId, value, timestamp: Date.now() / 1000 };
      },
    };
  }

  /** The exemplar of the bucket `le` (as rendered: `0.001`, `+Inf`) of a series, if one was recorded. */
  exemplar(labelValue: string, le: string): Exemplar | undefined {
    const s = this.series.get(labelValue);
    if (s?.exemplars == null) return undefined;
    const i = le === '+Inf' ? this.buckets.length : this.buckets.findIndex((b) => String(b) === le);
    return i < 0 ? undefined : s.exemplars[i];
  }

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    for (const [labelValue, s] of this.series) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += s.counts[i]!;
        const le = i < this.buckets.length ? String(this.buckets[i]) : '+Inf';
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { ...this.constLabels, [this.labelName]: labelValue, le },
          value: cumulative,
        });
      }
      const labels = { ...this.constLabels, [this.labelName]: labelValue };
      values.push({ metricName: `${this.name}_sum`, labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values, collect() {} };
  }

  reset(): void {
    for (const s of this.series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
      s.exemplars = null;
    }
  }

  /** For `Registry.registerMetric`, which is typed for prom-client's own classes but only uses get/reset/name. */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}
