import { hostname } from 'node:os';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { TelemetryConfig } from '../config/schema.js';
import type { DecisionRecord } from './record.js';

/**
 * The service logger (pino, JSON lines). Writes go to an asynchronous destination (sonic-boom with
 * `sync: false`): a slow disk or a full pipe fills a buffer instead of blocking the event loop, so logging never
 * stalls the Check path.
 */

export type LogConfig = TelemetryConfig['log'];

/**
 * Writes one decision as a JSON line on the logger's destination, in pino's line format (`level` 30 = info,
 * `time`, the base fields, `"log":"decision"`, `"msg":"decision"`), whatever the service log level: decision
 * volume is governed by `log.decisions`.
 *
 * Speed: the line is one `JSON.stringify` of a flat record appended to pino's buffered destination. Going through
 * `logger.info` would walk the object field by field and run the redaction pass, several times the cost; neither
 * is needed because a {@link DecisionRecord} is an allow-list of secret-free fields (`record.ts`).
 * `JSON.stringify` escapes control characters, so a hostile path cannot forge a second line.
 */
export interface DecisionWriter {
  write(record: DecisionRecord): void;
}

export interface LogOutputs {
  readonly logger: Logger;
  /** Writes decision log lines to the same destination (see {@link DecisionWriter}). */
  readonly decisions: DecisionWriter;
  /** Writes out whatever is buffered. */
  flush(): Promise<void>;
  /** Flushes and stops the periodic flush timer. */
  close(): Promise<void>;
}

/**
 * Defense in depth: keys that hold secrets when some caller logs a request-shaped object by mistake. The decision
 * log never includes them in the first place (see `record.ts`).
 */
const REDACT_PATHS = [
  'authorization',
  'cookie',
  'token',
  'certificate',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-forwarded-client-cert"]',
  '*.authorization',
  '*.cookie',
  '*.token',
  '*.certificate',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["x-forwarded-client-cert"]',
];

/**
 * Buffer up to this many bytes before a write: one syscall per ~15 lines instead of one per line (a per-line
 * write through libuv's thread pool costs more CPU than building the line). A quiet service still gets its
 * lines out within {@link FLUSH_INTERVAL_MS}, and pino flushes at exit; a hard crash can lose at most this much.
 */
const MIN_WRITE_BYTES = 8 * 1024;
/** Upper bound on how long a logged decision waits in the buffer, so a fresh denial is searchable at once. */
const FLUSH_INTERVAL_MS = 1000;

function openDestination(target: string): DestinationStream & { flush?(cb?: (err?: Error) => void): void } {
  const dest = target === 'stdout' ? 1 : target === 'stderr' ? 2 : target;
  return pino.destination({ dest, sync: false, minLength: MIN_WRITE_BYTES, mkdir: typeof dest === 'string' });
}

function decisionWriter(destination: { write(line: string): unknown }, base: Record<string, unknown>): DecisionWriter {
  const fields = JSON.stringify({ ...base, log: 'decision', msg: 'decision' }).slice(1, -1);
  // toISOString is a measurable part of a line; lines logged within the same millisecond share it.
  let lastMs = -1;
  let lastTime = '';
  return {
    write(record: DecisionRecord): void {
      const now = Date.now();
      if (now !== lastMs) {
        lastMs = now;
        lastTime = new Date(now).toISOString();
      }
      destination.write(`{"level":30,"time":"${lastTime}",${fields},${JSON.stringify(record).slice(1)}\n`);
    },
  };
}

export function createLogger(
  config: Pick<LogConfig, 'level' | 'destination'>,
  options: { version: string; destination?: NodeJS.WritableStream },
): LogOutputs {
  const destination = options.destination ?? openDestination(config.destination);
  const base = { service: 'mesh-authz', version: options.version, pid: process.pid, hostname: hostname() };
  const logger = pino(
    {
      level: config.level,
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination as DestinationStream,
  );
  const decisions = decisionWriter(destination, base);
  const flushable = destination as { flush?: unknown };
  // One periodic flush at a time: a flush waits for the destination to drain, and under sustained load that can
  // take longer than the interval (stacking them would pile up 'drain' listeners).
  let flushing = false;
  const timer =
    options.destination === undefined && typeof flushable.flush === 'function'
      ? setInterval(() => {
          if (flushing) return;
          flushing = true;
          try {
            logger.flush(() => {
              flushing = false;
            });
          } catch {
            // Not open yet or already closed: the next tick or exit will flush.
            flushing = false;
          }
        }, FLUSH_INTERVAL_MS).unref()
      : null;
  const flush = () =>
    new Promise<void>((resolve) => {
      if (typeof flushable.flush !== 'function') {
        resolve();
        return;
      }
      try {
        logger.flush(() => resolve());
      } catch {
        // A destination that is not ready yet (or already closed) has nothing we can flush.
        resolve();
      }
    });
  return {
    logger,
    decisions,
    flush,
    close: async () => {
      if (timer !== null) clearInterval(timer);
      await flush();
    },
  };
}
