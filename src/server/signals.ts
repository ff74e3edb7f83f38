/**
 * SIGTERM/SIGINT → graceful shutdown → exit 0. Kubernetes sends SIGTERM, waits terminationGracePeriodSeconds,
 * then SIGKILL: the grace (`server.shutdownGraceMs`, SIGTERM only) and the drain (`server.drainTimeoutMs`) must
 * fit inside that. SIGINT (Ctrl-C, an operator at a terminal) skips the grace: no endpoint is propagating. A
 * second signal while stopping exits at once (status 1): the operator asked twice.
 */
export interface Stoppable {
  shutdown(reason: string, options?: { grace?: boolean }): Promise<void>;
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
    service.shutdown(signal, { grace: signal === 'SIGTERM' }).then(
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
