import { describe, expect, it } from 'vitest';
import { coarsen, isIdentifierSegment, pathTemplate } from './template.js';

describe('pathTemplate', () => {
  it.each([
    ['/orders/12345', '/orders/{*}'],
    ['/orders/12345/items/7?expand=1', '/orders/{*}/items/{*}'],
    ['/users/3f2504e0-4f89-11d3-9a0c-0305e82c3301/cart', '/users/{*}/cart'],
    ['/blobs/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', '/blobs/{*}'],
    ['/commits/a1b2c3d4', '/commits/{*}'],
    ['/tokens/01ARZ3NDEKTSV4RRFFQ69G5FAV', '/tokens/{*}'],
    ['/mail/alice@example.com', '/mail/{*}'],
    ['/inv-20240101', '/{*}'],
    ['/api/v1/products', '/api/v1/products'],
    ['/api/v1/products/', '/api/v1/products/'],
    ['/', '/'],
    ['', '/'],
    // Istio's default BASE normalization keeps `//`: the path is kept exactly, as the engine will match it.
    ['/a//b/./c/../d', '/a//b/d'],
    ['/public/../admin', '/admin'],
    ['/x*', '/{*}'],
    ['/{**}', '/{*}'],
    // BASE decodes %2e to '.', then resolves '..': the engine matches '/b'.
    ['/a/%2e%2e/b', '/b'],
    ['/health#frag', '/health'],
  ])('%s → %s', (raw, want) => {
    expect(pathTemplate(raw)).toBe(want);
  });

  it('keeps words that merely look like hex', () => {
    expect(isIdentifierSegment('cafe')).toBe(false);
    expect(isIdentifierSegment('deadbeef')).toBe(false);
    expect(isIdentifierSegment('v2')).toBe(false);
  });

  it('bounds long paths', () => {
    const deep = `/${Array.from({ length: 40 }, (_, i) => `s${String.fromCharCode(97 + (i % 26))}`).join('/')}`;
    const t = pathTemplate(deep);
    expect(t.endsWith('/{**}')).toBe(true);
    expect(t.split('/').length).toBeLessThanOrEqual(17);
    const wide = `/${Array.from({ length: 15 }, () => 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij').join('/')}`;
    expect(pathTemplate(wide)).toBe('/abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij/{**}');
  });

  it('coarsens in two steps', () => {
    expect(coarsen('/a/b/c', 1)).toBe('/a/{**}');
    expect(coarsen('/a', 1)).toBe('/{*}');
    expect(coarsen('/', 1)).toBe('/');
    expect(coarsen('/a/b', 2)).toBe('/{**}');
  });
});
