import { format } from 'node:util';
import * as grpc from '@grpc/grpc-js';

interface WarnLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * grpc-js prints its own errors to stderr (e.g. "E No address added out of total 1 resolved" when a bind fails),
 * before and in another format than the service's clear message about the same failure. While the listener starts,
 * its lines are dropped (the start either succeeds or fails with our own message); afterwards they go to the
 * service's structured logger as warnings. Returns the function that ends the quiet period.
 */
export function quietGrpcLogs(logger: WarnLogger): () => void {
  let quiet = true;
  const forward = (...args: unknown[]) => {
    if (!quiet) logger.warn({ component: 'grpc-js' }, format(...args));
  };
  grpc.setLogger({ error: forward, info: forward, debug: forward });
  return () => {
    quiet = false;
  };
}
