import { describe, expect, it } from 'vitest';
import { FlowTable } from '../../src/discovery/table.js';
import { pathTemplate } from '../../src/discovery/template.js';

/**
 * Memory bound under a flood: a million distinct paths must not grow the table past its bound. The assertion is on
 * the table's entry count and on the length of every string it keeps (the two things memory is made of), never
 * on time.
 */

const T0 = Date.UTC(2026, 0, 1);
/** A million adds take a few CPU-seconds; on a loaded 2-core runner the wall time can be many times that. This is
 * a generous ceiling so the test fails only for a bound violation, never for speed. */
const FLOOD_TIMEOUT_MS = 180_000;
const dest = { namespace: 'shop', workload: 'api', labels: { app: 'api' } };

/** A path of letters only, distinct for each i, that the template rules cannot collapse by themselves. */
function wordPath(i: number): string {
  let s = '';
  let n = i;
  do {
    s += String.fromCharCode(97 + (n % 26));
    n = Math.floor(n / 26);
  } while (n > 0);
  return `/${s}/${s}x/${s}y`;
}

describe('flow table under a flood of distinct paths', () => {
  it(
    'one caller, a million distinct paths: the operation coarsens to one entry',
    () => {
      const t = new FlowTable({ maxFlows: 1000 });
      const source = {
        spiffeId: 'spiffe://cluster.local/ns/x/sa/scanner',
        trustDomain: 'cluster.local',
        namespace: 'x',
        serviceAccount: 'scanner',
      };
      for (let i = 0; i < 1_000_000; i++) {
        t.add({
          source,
          destination: dest,
          port: 8080,
          method: 'GET',
          path: pathTemplate(wordPath(i)),
          groups: [],
          outcome: 'denied',
          shadowDenied: false,
          policy: '',
          at: T0 + i,
        });
      }
      expect(t.size).toBe(1);
      const [only] = t.snapshot();
      expect(only!.path).toBe('/{**}');
      expect(only!.count).toBe(1_000_000);
      expect(t.drops(T0).collapsedPaths).toBeGreaterThan(0);
    },
    FLOOD_TIMEOUT_MS,
  );

  it(
    'a thousand callers × a thousand paths each: at most maxFlows entries, evictions counted',
    () => {
      const maxFlows = 500;
      expect(pathTemplate(wordPath(123_456))).toBe(wordPath(123_456));
      const t = new FlowTable({ maxFlows });
      let peak = 0;
      let seen = 0;
      for (let s = 0; s < 1000; s++) {
        const source = {
          spiffeId: `spiffe://cluster.local/ns/x/sa/s${s}`,
          trustDomain: 'cluster.local',
          namespace: 'x',
          serviceAccount: `s${s}`,
        };
        for (let p = 0; p < 1000; p++) {
          // Paths differ across the whole run: a million distinct ones. Letter-only paths are their own template
          // (the first test runs them through pathTemplate), so the template step is skipped here.
          t.add({
            source,
            destination: dest,
            port: 8080,
            method: 'GET',
            path: wordPath(s * 1000 + p),
            groups: [],
            outcome: 'allowed',
            shadowDenied: false,
            policy: '',
            at: T0 + seen,
          });
          seen++;
          if (t.size > peak) peak = t.size;
        }
      }
      expect(seen).toBe(1_000_000);
      expect(peak).toBeLessThanOrEqual(maxFlows);
      expect(t.operationCount).toBeLessThanOrEqual(t.size);
      const records = t.snapshot();
      const maxKeptString = Math.max(...records.map((r) => r.path.length + r.source.spiffeId.length));
      expect(maxKeptString).toBeLessThan(400);
      const drops = t.drops(T0);
      expect(drops.evictedFlows).toBeGreaterThan(0);
      // Nothing vanishes silently: what is held plus what was evicted is every request.
      const held = records.reduce((n, r) => n + r.count, 0);
      expect(held + drops.evictedRequests).toBe(1_000_000);
    },
    FLOOD_TIMEOUT_MS,
  );
});
