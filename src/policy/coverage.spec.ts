import { describe, expect, it } from 'vitest';
import { policy, policySet } from '../../test/conformance/policy-fixtures.js';
import { type CoverageSink, reportCoverage } from './coverage.js';

/** A sink that records what `serve` would log and export. */
function recordingSink() {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const gauge: number[] = [];
  const sink: CoverageSink = {
    warn: (fields, message) => warnings.push({ fields, message }),
    setUncoveredWorkloads: (count) => gauge.push(count),
  };
  return { sink, warnings, gauge };
}

const ALLOW_HTTPBIN = policy('ALLOW', '  rules:\n  - from:\n    - source:\n        namespaces: ["foo"]');
const httpbin = { namespace: 'foo', labels: { app: 'httpbin' } };
const db = { namespace: 'bar', labels: { app: 'db', tier: 'data' } };

describe('reportCoverage', () => {
  it('names every known workload no enforced ALLOW selects, warns once and exports the count', () => {
    const set = policySet(ALLOW_HTTPBIN, {}, 7);
    const { sink, warnings, gauge } = recordingSink();
    const orphan = { namespace: 'baz', labels: {} };
    expect(reportCoverage(set, { workloads: [httpbin, db, orphan] }, sink)).toEqual(['bar{app=db,tier=data}', 'baz']);
    expect(gauge).toEqual([2]);
    expect(warnings).toEqual([
      {
        fields: { workloads: ['bar{app=db,tier=data}', 'baz'], generation: 7 },
        message:
          '2 known workload(s) have no enforced ALLOW policy and accept every request: bar{app=db,tier=data}, baz',
      },
    ]);
  });

  it('a covered workload is not reported: the gauge says 0 and nothing is logged', () => {
    const { sink, warnings, gauge } = recordingSink();
    expect(reportCoverage(policySet(ALLOW_HTTPBIN), { workloads: [httpbin] }, sink)).toEqual([]);
    expect(gauge).toEqual([0]);
    expect(warnings).toEqual([]);
  });

  it('a dry-run ALLOW does not cover its workload (it is never enforced)', () => {
    const staged = policy('ALLOW', '  rules:\n  - {}', { annotations: '    istio.io/dry-run: "true"' });
    const { sink, gauge } = recordingSink();
    expect(reportCoverage(policySet(staged), { workloads: [httpbin] }, sink)).toEqual(['foo{app=httpbin}']);
    expect(gauge).toEqual([1]);
  });

  it('with no policy set or no known workloads there is nothing to report, and the gauge is left alone', () => {
    const { sink, warnings, gauge } = recordingSink();
    expect(reportCoverage(null, { workloads: [httpbin] }, sink)).toEqual([]);
    expect(reportCoverage(policySet(ALLOW_HTTPBIN), { workloads: [] }, sink)).toEqual([]);
    expect(gauge).toEqual([]);
    expect(warnings).toEqual([]);
  });
});
