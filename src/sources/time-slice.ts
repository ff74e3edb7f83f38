import type { Yielder } from '../policy/set.js';

/**
 * Cooperative slicing for work that runs beside the Check path (a policy reload): the work asks after each small
 * piece whether its time slice is used up, and if so waits for `setImmediate`, which lets every pending I/O
 * callback (the Checks waiting on the gRPC sockets) run first. A slice of `budgetMs` bounds how long one piece of
 * background work holds the event loop, as long as no single piece (one file's parse, one policy's compile) is
 * longer than that.
 */
export function timeSlicer(budgetMs: number): Yielder {
  let sliceStart = performance.now();
  return () => {
    if (performance.now() - sliceStart < budgetMs) return undefined;
    return new Promise<void>((resolve) => {
      setImmediate(() => {
        sliceStart = performance.now();
        resolve();
      });
    });
  };
}
