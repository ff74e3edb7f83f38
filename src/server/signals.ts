/**
 * SIGTERM/SIGINT → graceful shutdown → exit 0. Kubernetes sends SIGTERM, waits terminationGracePeriodSeconds,
 * then SIGKILL: the drain (bounded by `server.drainTimeoutMs`) must fit inside that. A second signal while
 * draining exits at once (status 1): the operator asked twice.
 */
export interface Stoppable {
  shutdown(reason: string): Promise<void>;
}

export interface SignalOptions {
  readonly exit: (code: number) => void;
  readonly onSignal?: (signal: NodeJS.Signals) => void;
}

/** Installs the handlers; returns a function that removes them. */
export function shutdownOnSignals(service: Stoppable, options: SignalOptions): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    options.onSignal?.(signal);
    if (stopping) {
      options.exit(1);
      return;
    }
    stopping = true;
    service.shutdown(signal).then(
      () => options.exit(0),
      () => options.exit(1),
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
