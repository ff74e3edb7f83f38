import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyRuns } from '../../test/support/property-runs.js';
import { canonicalize, isPlain, normalizePath } from './normalize.js';

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

// Istio's pathNormalization options (istio.io "Authorization policy normalization"; ../shared/reference/
// istio-authorization.md "Path normalization") over Envoy's path_utility.cc: BASE = RFC 3986 dot-segment removal,
// `\` → `/`, unreserved %HH decoded; MERGE_SLASHES = BASE + `//` → `/`; DECODE_AND_MERGE_SLASHES also decodes
// %2F/%5C first. Every known bypass from that reference is listed with what each mode must turn it into.
describe('normalizePath: the rules, both sides', () => {
  type Mode = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';
  const path = (raw: string, mode: Mode): string => {
    const r = normalizePath(raw, mode);
    if (!r.ok) throw new Error(`unexpected rejection of ${raw}: ${r.reason}`);
    return r.path;
  };

  it('strips the query and the fragment, whichever comes first, in every mode', () => {
    for (const mode of ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const) {
      expect(path('/admin?x=1', mode)).toBe('/admin');
      expect(path('/admin#frag', mode)).toBe('/admin');
      expect(path('/admin#f?x', mode)).toBe('/admin');
      expect(path('/admin?x#f', mode)).toBe('/admin');
      expect(path('/adm', mode)).toBe('/adm');
    }
  });

  it('NONE leaves the path as sent (dots, slashes, escapes, relative)', () => {
    expect(path('/public/../admin', 'NONE')).toBe('/public/../admin');
    expect(path('//admin', 'NONE')).toBe('//admin');
    expect(path('/a%2e%2e', 'NONE')).toBe('/a%2e%2e');
    expect(path('a/b', 'NONE')).toBe('a/b');
  });

  it('rejects a raw or encoded NUL in every mode, and a path that is not absolute when normalizing', () => {
    for (const mode of ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const) {
      expect(normalizePath('/a\0b', mode).ok).toBe(false);
      const r = normalizePath('/a%00', mode);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/%00/);
    }
    for (const mode of ['BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const) {
      const r = normalizePath('a/../admin', mode);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/start with \//);
      expect(normalizePath('', mode).ok).toBe(false);
    }
  });

  it('BASE removes . and .. segments, never above the root, keeping a trailing slash they leave', () => {
    expect(path('/public/../admin', 'BASE')).toBe('/admin');
    expect(path('/public/%2e%2e/admin', 'BASE')).toBe('/admin');
    expect(path('/public/%2E./admin', 'BASE')).toBe('/admin');
    expect(path('/../admin', 'BASE')).toBe('/admin');
    expect(path('/../../admin', 'BASE')).toBe('/admin');
    expect(path('/..', 'BASE')).toBe('/');
    expect(path('/a/b/..', 'BASE')).toBe('/a/');
    expect(path('/a/b/../', 'BASE')).toBe('/a/');
    expect(path('/a/./', 'BASE')).toBe('/a/');
    expect(path('/a/./b', 'BASE')).toBe('/a/b');
    expect(path('/./a', 'BASE')).toBe('/a');
    expect(path('/.', 'BASE')).toBe('/');
  });

  it('BASE keeps segments that only look like dots, and keeps case', () => {
    expect(path('/a/.../b', 'BASE')).toBe('/a/.../b');
    expect(path('/a/..b/c', 'BASE')).toBe('/a/..b/c');
    expect(path('/a/.b', 'BASE')).toBe('/a/.b');
    expect(path('/a.b/c', 'BASE')).toBe('/a.b/c');
    expect(path('/Admin/X', 'BASE')).toBe('/Admin/X');
    expect(path('/%41dmin', 'BASE')).toBe('/Admin');
  });

  it('BASE decodes unreserved escapes only and upper-cases the others; a backslash is a slash', () => {
    expect(path('/a%3ab', 'BASE')).toBe('/a%3Ab');
    expect(path('/a%2fb', 'BASE')).toBe('/a%2Fb');
    expect(path('/a%5cb', 'BASE')).toBe('/a%5Cb');
    expect(path('/%61%2D%5f%7E%2e', 'BASE')).toBe('/a-_~.');
    expect(path('/a%zz', 'BASE')).toBe('/a%zz');
    expect(path('/public\\..\\admin', 'BASE')).toBe('/admin');
  });

  it('BASE escapes bytes that may not appear raw (controls, space, DEL, non-ASCII) as upper-case UTF-8', () => {
    expect(path('/a b', 'BASE')).toBe('/a%20b');
    expect(path('/a\tb', 'BASE')).toBe('/a%09b');
    expect(path('/a\u007fb', 'BASE')).toBe('/a%7Fb');
    expect(path('/\u00ff', 'BASE')).toBe('/%C3%BF');
    expect(path('/a!b', 'BASE')).toBe('/a!b');
    expect(path('/a~b', 'BASE')).toBe('/a~b');
    // The same printable edges on the slow path (a dot segment forces it): still left raw.
    expect(path('/a!b/./c', 'BASE')).toBe('/a!b/c');
    expect(path('/a~b/./c', 'BASE')).toBe('/a~b/c');
  });

  it('only MERGE_SLASHES and DECODE_AND_MERGE_SLASHES merge slashes', () => {
    expect(path('//admin', 'BASE')).toBe('//admin');
    expect(path('//admin', 'MERGE_SLASHES')).toBe('/admin');
    expect(path('/a///b/', 'MERGE_SLASHES')).toBe('/a/b/');
    expect(path('//admin', 'DECODE_AND_MERGE_SLASHES')).toBe('/admin');
    expect(path('/a//../b', 'MERGE_SLASHES')).toBe('/a/b');
  });

  it('only DECODE_AND_MERGE_SLASHES decodes %2F and %5C (either case), before removing dot segments', () => {
    expect(path('/admin%2F..', 'BASE')).toBe('/admin%2F..');
    expect(path('/admin%2F..', 'MERGE_SLASHES')).toBe('/admin%2F..');
    expect(path('/admin%2F..', 'DECODE_AND_MERGE_SLASHES')).toBe('/');
    expect(path('/a%2f..%2fb', 'DECODE_AND_MERGE_SLASHES')).toBe('/b');
    expect(path('/a%5c..%5cb', 'DECODE_AND_MERGE_SLASHES')).toBe('/b');
    expect(path('/a%5cb', 'MERGE_SLASHES')).toBe('/a%5Cb');
    expect(path('/a%2F%2Fb', 'DECODE_AND_MERGE_SLASHES')).toBe('/a/b');
  });
});

// The fast path (`isPlain`: return the path as sent) must give exactly what the general normalization gives. Random
// absolute paths over an alphabet made of the characters each rule reacts to (`/`, `.`, `%`, hex digits of `%2F`,
// `%5C`, `%2E`, `%7E`, `\\`, unsafe bytes, non-ASCII) and a few plain letters, so both sides come up often.
describe('normalizePath: the fast path and the general path agree', () => {
  const MODES = ['BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const;
  const CHUNKS = ['/', '/', '.', '..', '%', '2', 'f', 'F', '5', 'c', 'e', 'E', '7', 'a', 'Z', '~', '-', '_', '\\'];
  const RAW = [' ', '\t', '\u007f', '\u00e9', '\u2603', '!', '~', '@', ':'];
  const absolute = fc.array(fc.constantFrom(...CHUNKS, ...RAW), { maxLength: 12 }).map((parts) => `/${parts.join('')}`);
  /** The fast path's definition, written independently: which paths it may return unchanged. */
  const plainByDefinition = (p: string) => !/[%\\]|[^\x21-\x7e]|\/\.|\/\//.test(p);

  it('a path the fast path takes is already canonical in every mode (the general path returns it unchanged)', () => {
    fc.assert(
      fc.property(absolute, (p) => {
        if (!isPlain(p)) return;
        for (const mode of MODES) expect(canonicalize(p, mode)).toBe(p);
      }),
      propertyRuns(2000),
    );
  });

  it('normalizePath answers what the general path answers, for every absolute path without NUL', () => {
    fc.assert(
      fc.property(absolute, fc.constantFrom(...MODES), (p, mode) => {
        expect(normalizePath(p, mode)).toEqual({ ok: true, path: canonicalize(p, mode) });
      }),
      propertyRuns(2000),
    );
  });

  it('the fast path takes exactly the paths without %, \\, unsafe bytes, /. or // (none is left to the slow path)', () => {
    fc.assert(
      fc.property(absolute, (p) => {
        expect(isPlain(p)).toBe(plainByDefinition(p));
      }),
      propertyRuns(2000),
    );
    // Each trigger alone, at the start, in the middle and at the end of a path, and its plain neighbours.
    for (const bad of ['%', '\\', ' ', '\u007f', '\u0080', '\u00e9', '\u0000', '\u0020', '//', '/.', '/..']) {
      for (const p of [`/${bad}`, `/a${bad}b`, `/ab${bad}`]) expect(isPlain(p), p).toBe(false);
    }
    for (const ok of ['/', '/a', '/a.b', '/a./b', '/a/b.', '/!', '/~', '/a-b_c', '/A/Z/0/9']) {
      expect(isPlain(ok), ok).toBe(true);
    }
  });
});
