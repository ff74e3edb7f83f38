/**
 * How many fast-check runs a property gets. `npm test` uses the figure each test asks for; the mutation run
 * (vitest.mutation.config.ts) scales them down with PROPERTY_RUN_SCALE, because every mutant re-runs the
 * properties that reach it and a mutant that changes a decision is found long before the full count.
 */
export function propertyRuns(numRuns: number): { numRuns: number } {
  const scale = Number(process.env.PROPERTY_RUN_SCALE ?? '1');
  const factor = Number.isFinite(scale) && scale > 0 ? scale : 1;
  return { numRuns: Math.max(20, Math.round(numRuns * factor)) };
}
