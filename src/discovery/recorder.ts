import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CheckOutcome } from '../authz/outcome.js';
import type { CheckSpan, DecisionObserver } from '../authz/seams.js';
import type { DiscoveryConfig } from '../config/schema.js';
import type { PathNormalization } from '../policy/normalize.js';
import { ISTIO_DEFAULTS } from '../policy/options.js';
import { observe } from './observe.js';
import { createOtlpFlowSink, type FlowLogSink, type OtlpFlowOptions } from './otlp.js';
import { FlowTable, type FlowTableLimits } from './table.js';

export interface FlowRecorderOptions {
  /** Resolves the configured file against the config file's folder. Default: as given. */
  readonly resolvePath?: (path: string) => string;
  /** Clock for drop-record timestamps (tests freeze it). */
  readonly now?: () => number;
  /** Overrides the OTLP sink (tests pass an in-memory one); used only when `otlpLogs` is on unless given. */
  readonly sink?: FlowLogSink;
  /** The OTLP sink's resource and export accounting (serve passes telemetry's). */
  readonly otlp?: OtlpFlowOptions;
  readonly limits?: Partial<Omit<FlowTableLimits, 'maxFlows'>>;
  /** Told when a flush fails (the recorder never throws into the Check path). */
  readonly onError?: (err: unknown) => void;
  /** The mesh's path normalization (`policy.pathNormalization`): paths are learned as the policies match them. */
  readonly pathNormalization?: PathNormalization;
}

/**
 * Monitor mode: a {@link DecisionObserver} that adds every decided Check to a bounded {@link FlowTable} and
 * appends the flows seen since the last flush to a JSON Lines file every `flushIntervalSeconds`.
 *
 * `onDecision` does a few string operations and one map update: no I/O, no await. Flushing runs on a timer
 * (unref'd, so it never keeps the process alive) and writes asynchronously; flushes are serialized so lines from
 * two flushes never interleave.
 */
export class FlowRecorder implements DecisionObserver {
  readonly table: FlowTable;
  readonly file: string;
  private readonly now: () => number;
  private readonly sink: FlowLogSink | null;
  private readonly onError: (err: unknown) => void;
  private readonly normalization: PathNormalization;
  private timer: NodeJS.Timeout | null = null;
  private pending: Promise<void> = Promise.resolve();
  private closed = false;
  private dirReady = false;

  constructor(config: DiscoveryConfig, options: FlowRecorderOptions = {}) {
    this.table = new FlowTable({ ...options.limits, maxFlows: config.maxFlows });
    this.file = (options.resolvePath ?? ((p: string) => p))(config.file);
    this.now = options.now ?? Date.now;
    this.sink = options.sink ?? (config.otlpLogs ? createOtlpFlowSink(undefined, options.otlp) : null);
    this.onError = options.onError ?? (() => {});
    this.normalization = options.pathNormalization ?? ISTIO_DEFAULTS.pathNormalization;
    this.timer = setInterval(() => {
      void this.flush();
    }, config.flushIntervalSeconds * 1000);
    this.timer.unref();
  }

  onDecision(outcome: CheckOutcome, _span?: CheckSpan): void {
    if (this.closed) return;
    try {
      const o = observe(outcome, this.normalization);
      if (o !== null) this.table.add(o);
    } catch (err) {
      // A recorder bug must never turn into a failed Check.
      this.onError(err);
    }
  }

  /** Writes the flows seen since the last flush (and the drop counters). Resolves when written. */
  flush(): Promise<void> {
    this.pending = this.pending.then(() => this.writeDelta());
    return this.pending;
  }

  private async writeDelta(): Promise<void> {
    const records = this.table.takeDelta();
    if (records.length === 0) return;
    const lines = records.map((r) => JSON.stringify(r));
    lines.push(JSON.stringify(this.table.drops(this.now())));
    try {
      if (!this.dirReady) {
        await mkdir(dirname(this.file), { recursive: true });
        this.dirReady = true;
      }
      await appendFile(this.file, `${lines.join('\n')}\n`, 'utf8');
    } catch (err) {
      this.onError(err);
    }
    try {
      this.sink?.emit(records);
    } catch (err) {
      this.onError(err);
    }
  }

  /** Stops the timer, writes what is left and shuts the OTLP exporter down. */
  async close(): Promise<void> {
    if (this.closed) return this.pending;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
    await this.sink?.close();
  }
}
