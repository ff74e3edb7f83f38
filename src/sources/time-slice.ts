import type { PolicySet, Yielder } from '../policy/set.js';

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

/**
 * Compiles, in the background and in slices, every policy of a newly served set that no request has needed yet
 * (see PolicySet.warm), starting on a later turn of the event loop so its first slice never adds to the turn that
 * swapped the set in. Stops once `stale()` says the set was replaced or its source closed. Never rejects: a
 * namespace not compiled here is compiled when a request needs it, so nothing is lost.
 */
export function warmInBackground(set: PolicySet, yielder: Yielder, stale: () => boolean): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => set.warm(yielder, stale))
    .catch(() => undefined);
}
