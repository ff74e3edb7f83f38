import { hostname } from 'node:os';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { TelemetryConfig } from '../config/schema.js';

/**
 * The service logger (pino, JSON lines). Writes go to an asynchronous destination (sonic-boom with
 * `sync: false`): a slow disk or a full pipe fills a buffer instead of blocking the event loop, so logging never
 * stalls the Check path.
 */

export type LogConfig = TelemetryConfig['log'];

export interface ServiceLogger {
  readonly logger: Logger;
  /** Writes out whatever is buffered. */
  flush(): Promise<void>;
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

function openDestination(target: string): DestinationStream & { flush?(cb?: (err?: Error) => void): void } {
  if (target === 'stdout') return pino.destination({ dest: 1, sync: false });
  if (target === 'stderr') return pino.destination({ dest: 2, sync: false });
  return pino.destination({ dest: target, sync: false, mkdir: true });
}

export function createLogger(
  config: LogConfig,
  options: { version: string; destination?: NodeJS.WritableStream },
): ServiceLogger {
  const destination = options.destination ?? openDestination(config.destination);
  const logger = pino(
    {
      level: config.level,
      base: { service: 'mesh-authz', version: options.version, pid: process.pid, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination as DestinationStream,
  );
  return {
    logger,
    flush: () =>
      new Promise<void>((resolve) => {
        const flushable = destination as { flush?: unknown };
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
      }),
  };
}
