import { describe, expect, it } from 'vitest';
import { LogSink, outcome } from '../../test/telemetry/fixtures.js';
import type { CheckSpan } from '../authz/seams.js';
import { DecisionLog, type DecisionLogOptions } from './decision-log.js';
import { createLogger } from './logger.js';

const span: CheckSpan = { traceId: 't'.repeat(32), spanId: 's'.repeat(16), event() {}, end() {} };
const allow = outcome({ decisionId: 'allow', allowed: true, status: 'OK', httpStatus: 200 });
const deny = outcome({ decisionId: 'deny' });

function setup(options: DecisionLogOptions) {
  const sink = new LogSink();
  const { decisions, logger } = createLogger(
    { level: 'info', destination: 'stdout' },
    { version: 'spec', destination: sink },
  );
  const log = new DecisionLog(decisions, { ...options, warn: (m, f) => logger.warn(f, m) });
  return { sink, log };
}

describe('DecisionLog', () => {
  it.each([
    ['all', 0, ['allow', 'deny']],
    ['deny', 1, ['deny']],
    ['none', 1, []],
    ['sample', 0.5, ['allow', 'deny']], // random() is 0.25 < 0.5
    ['sample', 0.1, ['deny']], // random() is 0.25 >= 0.1
  ] as const)('mode %s (allow rate %s) logs %j', (mode, allowSampleRate, expected) => {
    const { sink, log } = setup({ mode, allowSampleRate, random: () => 0.25 });
    log.onDecision(allow, span);
    log.onDecision(deny, span);
    log.drain();
    expect(sink.decisions().map((l) => l.decision_id)).toEqual(expected);
  });

  it('writes nothing on the Check path: lines appear on a later tick', async () => {
    const { sink, log } = setup({ mode: 'all', allowSampleRate: 0 });
    log.onDecision(deny, span);
    expect(sink.raw).toBe('');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const [line] = sink.decisions();
    expect(line).toMatchObject({ decision_id: 'deny', trace_id: span.traceId, span_id: span.spanId });
  });

  it('drops and counts lines beyond the queue bound instead of growing without limit', () => {
    const dropped: number[] = [];
    const { sink, log } = setup({ mode: 'all', allowSampleRate: 0, maxQueue: 2, onDropped: (n) => dropped.push(n) });
    for (let i = 0; i < 5; i++) log.onDecision(deny, span);
    log.drain();
    expect(sink.decisions()).toHaveLength(2);
    expect(dropped).toEqual([3]);
    expect(sink.lines().some((l) => l.msg === 'decision log queue full; lines dropped')).toBe(true);
  });
});
