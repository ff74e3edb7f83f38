import { describe, expect, it } from 'vitest';
import { HealthState } from './health.js';
import { splitHostPort } from './service.js';

describe('splitHostPort', () => {
  it('splits IPv4, names and bracketed IPv6', () => {
    expect(splitHostPort('127.0.0.1:9191')).toEqual({ host: '127.0.0.1', port: 9191 });
    expect(splitHostPort('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(splitHostPort('[::1]:9901')).toEqual({ host: '::1', port: 9901 });
  });
});

describe('HealthState', () => {
  it('starts NOT_SERVING and tells watchers about changes only', () => {
    const state = new HealthState();
    const seen: string[] = [];
    const off = state.subscribe((s) => seen.push(s));
    expect(state.current).toBe('NOT_SERVING');
    state.set('NOT_SERVING');
    state.set('SERVING');
    state.set('SERVING');
    state.set('NOT_SERVING');
    off();
    state.set('SERVING');
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    expect(state.watchers).toBe(0);
  });
});
