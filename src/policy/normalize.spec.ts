import { describe, expect, it } from 'vitest';
import { normalizePath } from './normalize.js';

describe('normalizePath', () => {
  const table: [string, 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES', string][] = [
    ['/a/b?x=1#f', 'NONE', '/a/b'],
    ['/a/../b', 'NONE', '/a/../b'],
    ['/a/./b/../c', 'BASE', '/a/c'],
    ['/a/..', 'BASE', '/'],
    ['/a/.', 'BASE', '/a/'],
    ['/%2e%2E/x', 'BASE', '/x'],
    ['/%7euser/%41', 'BASE', '/~user/A'],
    ['/a%2fb', 'BASE', '/a%2Fb'],
    ['/a\\b', 'BASE', '/a/b'],
    ['//a//b', 'BASE', '//a//b'],
    ['//a//b', 'MERGE_SLASHES', '/a/b'],
    ['/a%2F..%2Fb', 'MERGE_SLASHES', '/a%2F..%2Fb'],
    ['/a%2F..%2Fb', 'DECODE_AND_MERGE_SLASHES', '/b'],
    ['/a%5Cb', 'DECODE_AND_MERGE_SLASHES', '/a/b'],
    ['/caf\u00e9', 'BASE', '/caf%C3%A9'],
    ['/plain/path', 'BASE', '/plain/path'],
  ];
  for (const [raw, mode, want] of table) {
    it(`${mode}: ${raw} → ${want}`, () => {
      expect(normalizePath(raw, mode)).toEqual({ ok: true, path: want });
    });
  }

  it('rejects %00 in every mode, and relative paths when normalizing', () => {
    for (const mode of ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const) {
      expect(normalizePath('/a%00b', mode).ok).toBe(false);
    }
    expect(normalizePath('*', 'BASE').ok).toBe(false);
    expect(normalizePath('/x?%00', 'BASE').ok).toBe(true);
  });
});
