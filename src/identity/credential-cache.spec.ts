import { describe, expect, it } from 'vitest';
import { CredentialCache } from './credential-cache.js';

/** Two credentials of the same length whose last 64+ characters are equal: they share a cache slot. */
const TAIL = 'x'.repeat(80);
const ALICE = `alice-${TAIL}`;
const MALLO = `mallo-${TAIL}`;

describe('CredentialCache: a verdict is reused only for exactly the same credential and scope', () => {
  it('returns the verdict stored for a credential, and nothing for one never stored', () => {
    const c = new CredentialCache<string>(10);
    c.set(ALICE, 'alice');
    expect(c.get(ALICE)).toBe('alice');
    expect(c.get(`${ALICE}y`)).toBeUndefined();
    expect(c.get('')).toBeUndefined();
  });

  it('two credentials that share a slot (same length and tail) never share a verdict', () => {
    const c = new CredentialCache<string>(10);
    c.set(ALICE, 'alice');
    expect(c.get(MALLO)).toBeUndefined();
    c.set(MALLO, 'mallory');
    expect(c.get(MALLO)).toBe('mallory');
    // They evict each other rather than answer for each other.
    expect(c.get(ALICE)).toBeUndefined();
  });

  it('credentials that differ only before the tail, in length, or in the tail each get their own entry', () => {
    const c = new CredentialCache<number>(10);
    const shortTail = 'a'.repeat(10);
    c.set(shortTail, 1);
    c.set(`b${'a'.repeat(9)}`, 2);
    c.set(`${TAIL}1`, 3);
    c.set(`${TAIL}2`, 4);
    c.set(`${TAIL}22`, 5);
    expect([
      c.get(shortTail),
      c.get(`b${'a'.repeat(9)}`),
      c.get(`${TAIL}1`),
      c.get(`${TAIL}2`),
      c.get(`${TAIL}22`),
    ]).toEqual([1, 2, 3, 4, 5]);
  });

  it('the same credential in another scope (another header) is another entry', () => {
    const c = new CredentialCache<string>(10);
    c.set(ALICE, 'from authorization', 'authorization');
    expect(c.get(ALICE)).toBeUndefined();
    expect(c.get(ALICE, 'x-token')).toBeUndefined();
    expect(c.get(ALICE, 'authorization')).toBe('from authorization');
    c.set(ALICE, 'default scope');
    expect(c.get(ALICE)).toBe('default scope');
    expect(c.get(ALICE, 'authorization')).toBe('from authorization');
  });

  it('clear() forgets every verdict and advances the epoch', () => {
    const c = new CredentialCache<string>(10);
    c.set(ALICE, 'alice');
    const before = c.epoch;
    c.clear();
    expect(c.epoch).toBe(before + 1);
    expect(c.get(ALICE)).toBeUndefined();
  });

  it('a verdict computed before a clear() is not stored after it (its keys may be gone)', () => {
    const c = new CredentialCache<string>(10);
    const started = c.epoch;
    c.clear();
    c.set(ALICE, 'stale', '', started);
    expect(c.get(ALICE)).toBeUndefined();
    c.set(ALICE, 'fresh', '', c.epoch);
    expect(c.get(ALICE)).toBe('fresh');
  });

  it('holds at most maxEntries verdicts, dropping the least recently used', () => {
    const c = new CredentialCache<number>(2);
    c.set('one', 1);
    c.set('two', 2);
    expect(c.get('one')).toBe(1);
    c.set('three', 3);
    expect(c.get('two')).toBeUndefined();
    expect([c.get('one'), c.get('three')]).toEqual([1, 3]);
  });
});
