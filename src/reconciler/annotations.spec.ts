import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkPath, parseAnnotations, parseCaller, splitList } from './annotations.js';
import { unifiedDiff } from './diff.js';
import { canonicalJson, sourceHash } from './hash.js';

describe('allow-from entries', () => {
  it.each([
    ['shop/frontend', { kind: 'principal', value: 'td.example/ns/shop/sa/frontend' }],
    ['shop/batch-*', { kind: 'principal', value: 'td.example/ns/shop/sa/batch-*' }],
    ['shop/*', { kind: 'namespace', value: 'shop' }],
    ['team-*/*', { kind: 'namespace', value: 'team-*' }],
    ['*/auditor', { kind: 'principal', value: '*/sa/auditor' }],
    ['*', { kind: 'principal', value: '*' }],
    ['spiffe://other.td/ns/a/sa/b', { kind: 'principal', value: 'other.td/ns/a/sa/b' }],
  ])('%s', (entry, expected) => {
    expect(parseCaller(entry, 'td.example')).toEqual(expected);
  });

  it.each([
    'Shop/x',
    'a/b/c',
    'team-*/web',
    '*/pre*',
    'ns/mid*dle',
    'spiffe://UPPER/x',
    'spiffe://td',
    'spiffe://td/a//b',
    'ns/',
    '/sa',
  ])('rejects %s with a reason', (entry) => {
    expect(typeof parseCaller(entry, 'cluster.local')).toBe('string');
  });

  it('any valid namespace/service account maps to the Kubernetes SPIFFE path, never a wildcard', () => {
    const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(label, label, (ns, sa) => {
        expect(parseCaller(`${ns}/${sa}`, 'cluster.local')).toEqual({
          kind: 'principal',
          value: `cluster.local/ns/${ns}/sa/${sa}`,
        });
      }),
    );
  });
});

describe('paths', () => {
  it.each(['/a', '/a/*', '*.png', '*', '/a/{*}/b', '/a/{**}', '/{*}', '/'])('accepts %s', (p) => {
    expect(checkPath(p)).toBeNull();
  });
  it.each(['a', '/a?x', '/a#f', '/a/../b', '/./a', '//a', '/a/{**}/b', '/a/x{*}', '/a/*/b', '/a/{*}*'])(
    'rejects %s',
    (p) => {
      expect(checkPath(p)).not.toBeNull();
    },
  );
});

describe('parseAnnotations', () => {
  it('reads lists separated by commas, spaces and newlines, and de-duplicates', () => {
    expect(splitList(' a, b\n c ,,d ')).toEqual(['a', 'b', 'c', 'd']);
    const r = parseAnnotations(
      {
        'authz.mesh-authz.io/allow-from': 'shop/a, shop/a\nshop/*',
        'authz.mesh-authz.io/allow-methods': 'GET GET',
        'authz.mesh-authz.io/mode': ' dry-run ',
      },
      'cluster.local',
    );
    expect(r).toEqual({
      ok: true,
      intent: {
        callers: { principals: ['cluster.local/ns/shop/sa/a'], namespaces: ['shop'] },
        methods: ['GET'],
        paths: [],
        groups: [],
        mode: 'dry-run',
        enforceIn: 'mesh',
      },
    });
  });

  it('collects every problem, not just the first', () => {
    const r = parseAnnotations(
      { 'authz.mesh-authz.io/allow-methods': 'get', 'authz.mesh-authz.io/allow-pathz': '/x' },
      'cluster.local',
    );
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems.map((p) => p.code).sort()).toEqual([
        'invalid_annotation',
        'missing_allow_from',
        'unknown_annotation',
      ]);
    }
  });
});

describe('hash and diff helpers', () => {
  it('hashes independently of key order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
    expect(sourceHash({ a: 1, b: 2 })).toBe(sourceHash({ b: 2, a: 1 }));
    expect(sourceHash({ a: 1 })).not.toBe(sourceHash({ a: 2 }));
  });

  it('prints a line diff', () => {
    expect(unifiedDiff('a\nb\nc\n', 'a\nx\nc\n', 'old', 'new')).toBe('--- old\n+++ new\n a\n+x\n-b\n c\n');
  });
});
