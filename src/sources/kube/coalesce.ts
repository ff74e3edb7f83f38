/**
 * Coalesces a burst of watch events (a Deployment rollout, a re-list) into one run on the next turn of the event
 * loop: the returned trigger may be called any number of times before then; `run` runs once.
 */
export function coalesced(run: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      run();
    });
  };
}
