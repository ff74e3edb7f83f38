import { describe, expect, it } from 'vitest';
import { flowDestination, flowSource } from './observe.js';

describe('observe', () => {
  it('names a destination by its naming label, so per-pod labels do not split it', () => {
    expect(flowDestination({ namespace: 'shop', labels: { app: 'api', 'pod-template-hash': 'x1' } })).toEqual({
      namespace: 'shop',
      workload: 'api',
      labels: { app: 'api' },
    });
    expect(flowDestination({ namespace: 'shop', labels: { 'app.kubernetes.io/name': 'db', tier: 'data' } })).toEqual({
      namespace: 'shop',
      workload: 'db',
      labels: { 'app.kubernetes.io/name': 'db' },
    });
    expect(flowDestination({ namespace: 'shop', labels: { tier: 'data', role: 'primary' } })).toEqual({
      namespace: 'shop',
      workload: 'primary',
      labels: { role: 'primary', tier: 'data' },
    });
    expect(flowDestination({ namespace: 'shop', labels: {} }).workload).toBe('*');
  });

  it('caps every string it keeps', () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}${'x'.repeat(100)}`, 'v'.repeat(100)]));
    const d = flowDestination({ namespace: 'n'.repeat(1000), labels: many });
    expect(d.namespace.length).toBe(253);
    expect(Object.keys(d.labels)).toHaveLength(8);
    for (const [k, v] of Object.entries(d.labels)) {
      expect(k.length).toBeLessThanOrEqual(63);
      expect(v.length).toBeLessThanOrEqual(63);
    }
    expect(d.workload.length).toBeLessThanOrEqual(63);
    const s = flowSource({
      spiffeId: `spiffe://td/${'p'.repeat(5000)}`,
      trustDomain: 'td',
      namespace: null,
      serviceAccount: null,
      expiresAt: 0,
      credentialId: 'c',
    });
    expect(s.spiffeId.length).toBe(2048);
    expect(flowSource(null).spiffeId).toBe('');
  });
});
