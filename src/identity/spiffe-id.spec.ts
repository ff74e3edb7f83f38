import { describe, expect, it } from 'vitest';
import {
  parseSpiffeId,
  parseTrustDomain,
  SpiffeIdError,
  type SpiffeIdErrorCode,
  tryParseSpiffeId,
} from './spiffe-id.js';

const valid: ReadonlyArray<readonly [string, string, string]> = [
  ['spiffe://example.org', 'example.org', ''],
  ['spiffe://example.org/workload', 'example.org', '/workload'],
  ['spiffe://cluster.local/ns/default/sa/frontend', 'cluster.local', '/ns/default/sa/frontend'],
  ['spiffe://a/b', 'a', '/b'],
  ['spiffe://my-domain_1.example/p', 'my-domain_1.example', '/p'],
  ['spiffe://example.org/Upper/Case/OK', 'example.org', '/Upper/Case/OK'],
  ['spiffe://example.org/a.b/c-d/e_f', 'example.org', '/a.b/c-d/e_f'],
  ['spiffe://example.org/...', 'example.org', '/...'],
  ['spiffe://example.org/.hidden', 'example.org', '/.hidden'],
  ['spiffe://example.org/..x', 'example.org', '/..x'],
  ['spiffe://123.456/789', '123.456', '/789'],
  ['spiffe://-/_', '-', '/_'],
  [`spiffe://${'a'.repeat(255)}/x`, 'a'.repeat(255), '/x'],
  [`spiffe://example.org/${'p'.repeat(2048 - 'spiffe://example.org/'.length)}`, 'example.org', ''],
];

const invalid: ReadonlyArray<readonly [string, SpiffeIdErrorCode, string]> = [
  ['', 'empty', 'nothing to parse'],
  ['example.org/workload', 'wrong_scheme', 'no scheme'],
  ['SPIFFE://example.org/w', 'wrong_scheme', 'scheme must be lowercase'],
  ['Spiffe://example.org/w', 'wrong_scheme', 'scheme must be lowercase'],
  ['https://example.org/w', 'wrong_scheme', 'another scheme'],
  ['spiffe:/example.org/w', 'wrong_scheme', 'one slash'],
  ['spiffe:example.org', 'wrong_scheme', 'no authority'],
  [' spiffe://example.org/w', 'wrong_scheme', 'leading space'],
  ['spiffe://', 'missing_trust_domain', 'no trust domain'],
  ['spiffe:///path', 'missing_trust_domain', 'empty trust domain before the path'],
  ['spiffe://Example.org/w', 'trust_domain_uppercase', 'uppercase trust domain'],
  ['spiffe://example.org:8443/w', 'trust_domain_port', 'port in the trust domain'],
  ['spiffe://user@example.org/w', 'trust_domain_userinfo', 'userinfo in the trust domain'],
  ['spiffe://user:pw@example.org/w', 'trust_domain_port', 'userinfo with password (":" comes first)'],
  ['spiffe://exa mple.org/w', 'trust_domain_char', 'space in the trust domain'],
  ['spiffe://example!.org/w', 'trust_domain_char', '"!" in the trust domain'],
  ['spiffe://[::1]/w', 'trust_domain_char', 'IP literal'],
  ['spiffe://ex%41mple.org/w', 'percent_encoding', 'percent-encoded trust domain'],
  ['spiffe://example.org?x=1', 'query', 'query right after the trust domain'],
  ['spiffe://example.org#frag', 'fragment', 'fragment right after the trust domain'],
  ['spiffe://exämple.org/w', 'non_ascii', 'non-ASCII trust domain'],
  [`spiffe://${'a'.repeat(256)}/x`, 'trust_domain_too_long', 'trust domain over 255 bytes'],
  [`spiffe://example.org/${'p'.repeat(2048)}`, 'too_long', 'ID over 2048 bytes'],
  ['spiffe://example.org/', 'trailing_slash', 'trailing slash, no path'],
  ['spiffe://example.org/w/', 'trailing_slash', 'trailing slash after a segment'],
  ['spiffe://example.org//w', 'empty_segment', 'empty segment at the start'],
  ['spiffe://example.org/a//b', 'empty_segment', 'empty segment in the middle'],
  ['spiffe://example.org/.', 'dot_segment', '"." segment'],
  ['spiffe://example.org/..', 'dot_segment', '".." segment'],
  ['spiffe://example.org/a/./b', 'dot_segment', '"." in the middle'],
  ['spiffe://example.org/a/../b', 'dot_segment', '".." in the middle (traversal)'],
  ['spiffe://example.org/a/..', 'dot_segment', '".." at the end'],
  ['spiffe://example.org/a%2Fb', 'percent_encoding', 'percent-encoded slash in the path'],
  ['spiffe://example.org/a%2e%2e', 'percent_encoding', 'percent-encoded dots'],
  ['spiffe://example.org/w?x=1', 'query', 'query in the path'],
  ['spiffe://example.org/w#f', 'fragment', 'fragment in the path'],
  ['spiffe://example.org/w:1', 'path_char', '":" in the path'],
  ['spiffe://example.org/a b', 'path_char', 'space in the path'],
  ['spiffe://example.org/a;b', 'path_char', '";" in the path (XFCC separator)'],
  ['spiffe://example.org/a,b', 'path_char', '"," in the path (XFCC separator)'],
  ['spiffe://example.org/a=b', 'path_char', '"=" in the path (XFCC separator)'],
  ['spiffe://example.org/a"b', 'path_char', 'quote in the path'],
  ['spiffe://example.org/a\\b', 'path_char', 'backslash in the path'],
  ['spiffe://example.org/caf\u00e9', 'non_ascii', 'non-ASCII path'],
  ['spiffe://example.org/a\u0000b', 'path_char', 'NUL in the path'],
  ['spiffe://example.org/a\nb', 'path_char', 'newline in the path'],
  ['spiffe://example.org/\u{1F600}', 'non_ascii', 'emoji (surrogate pair)'],
  ['spiffe://example.org/w\u0130', 'non_ascii', 'dotted capital I (case-folding tricks)'],
];

/**
 * Boundary characters: the first and last character of every allowed range, one-character segments and segments
 * that only start or end with a dot, each next to the character just outside the range (the invalid table below).
 * A validator off by one at any range end accepts one of the invalid IDs or rejects one of these.
 */
const boundaryValid: readonly string[] = [
  'spiffe://a/a',
  'spiffe://z/z',
  'spiffe://0/0',
  'spiffe://9/9',
  'spiffe://./A',
  'spiffe://_/Z',
  'spiffe://az09.-_/b',
  'spiffe://example.org/A',
  'spiffe://example.org/Z',
  'spiffe://example.org/z',
  'spiffe://example.org/0',
  'spiffe://example.org/9',
  'spiffe://example.org/-',
  'spiffe://example.org/_',
  'spiffe://example.org/AZaz09.-_',
  'spiffe://example.org/a/b/c',
  'spiffe://example.org/.x',
  'spiffe://example.org/x.',
  'spiffe://example.org/a/.x',
  'spiffe://example.org/.x/a',
  'spiffe://example.org/x./.y/z',
  'spiffe://example.org/..y/x',
  `spiffe://example.org/${'p'.repeat(2048 - 'spiffe://example.org/'.length)}`,
];

const boundaryInvalid: ReadonlyArray<readonly [string, SpiffeIdErrorCode]> = [
  ['spiffe://`/a', 'trust_domain_char'],
  ['spiffe://{/a', 'trust_domain_char'],
  ['spiffe://a,b/a', 'trust_domain_char'],
  ['spiffe://a+b/a', 'trust_domain_char'],
  ['spiffe://a^b/a', 'trust_domain_char'],
  ['spiffe://a\u007fb/a', 'trust_domain_char'],
  ['spiffe://A/a', 'trust_domain_uppercase'],
  ['spiffe://Z/a', 'trust_domain_uppercase'],
  ['spiffe://a@/a', 'trust_domain_userinfo'],
  ['spiffe://a[/a', 'trust_domain_char'],
  ['spiffe://a\u0080/a', 'non_ascii'],
  ['spiffe://example.org/`', 'path_char'],
  ['spiffe://example.org/{', 'path_char'],
  ['spiffe://example.org/@', 'path_char'],
  ['spiffe://example.org/[', 'path_char'],
  ['spiffe://example.org/^', 'path_char'],
  ['spiffe://example.org/+', 'path_char'],
  ['spiffe://example.org/a\u007f', 'path_char'],
  ['spiffe://example.org/a\u0080', 'non_ascii'],
  ['spiffe://example.org/x/.', 'dot_segment'],
  ['spiffe://example.org/./x', 'dot_segment'],
  ['spiffe://example.org/x/../y', 'dot_segment'],
  ['spiffe://example.org/a/', 'trailing_slash'],
  [`spiffe://example.org/${'p'.repeat(2049 - 'spiffe://example.org/'.length)}`, 'too_long'],
];

describe('parseSpiffeId: boundary characters', () => {
  it.each(boundaryValid)('accepts %s', (id) => {
    const parsed = parseSpiffeId(id);
    expect(parsed.toString()).toBe(id);
    expect(`spiffe://${parsed.trustDomain}${parsed.path}`).toBe(id);
  });

  it.each(boundaryInvalid)('rejects %j with %s', (id, code) => {
    expect(() => parseSpiffeId(id)).toThrow(SpiffeIdError);
    try {
      parseSpiffeId(id);
    } catch (err) {
      expect((err as SpiffeIdError).code).toBe(code);
    }
    expect(tryParseSpiffeId(id)).toBeNull();
  });

  it('validates bare trust domains at the same boundaries', () => {
    for (const td of ['a', 'z', '0', '9', '.', '-', '_', 'a'.repeat(255)]) expect(parseTrustDomain(td)).toBe(td);
    for (const td of ['`', '{', '/', ':', '@', 'A', 'Z', 'a'.repeat(256)]) {
      expect(() => parseTrustDomain(td)).toThrow(SpiffeIdError);
    }
  });
});

describe('parseSpiffeId: valid IDs', () => {
  it.each(valid)('%s', (id, td, path) => {
    const parsed = parseSpiffeId(id);
    expect(parsed.trustDomain).toBe(td);
    if (path !== '') expect(parsed.path).toBe(path);
    expect(parsed.toString()).toBe(id);
    expect(tryParseSpiffeId(id)?.toString()).toBe(id);
  });
});

describe('parseSpiffeId: invalid IDs, each with its reason', () => {
  it.each(invalid)('%j → %s (%s)', (id, code) => {
    let caught: unknown;
    try {
      parseSpiffeId(id);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SpiffeIdError);
    expect((caught as SpiffeIdError).code).toBe(code);
    // Every reason carries a sentence for the operator, and the error names itself in logs.
    expect((caught as SpiffeIdError).message).toMatch(/^[ -~]{15,}$/);
    expect((caught as SpiffeIdError).name).toBe('SpiffeIdError');
    expect(tryParseSpiffeId(id)).toBeNull();
  });

  it('never echoes the input in the message', () => {
    const secretish = 'spiffe://example.org/a%2Fsecret-value';
    try {
      parseSpiffeId(secretish);
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-value');
    }
  });

  it('has at least 40 cases in total', () => {
    expect(valid.length + invalid.length).toBeGreaterThanOrEqual(40);
  });
});

describe('SpiffeId accessors', () => {
  it('reads namespace and service account from the Kubernetes form', () => {
    const id = parseSpiffeId('spiffe://cluster.local/ns/prod/sa/api');
    expect(id.namespace).toBe('prod');
    expect(id.serviceAccount).toBe('api');
    expect(id.trustDomainId).toBe('spiffe://cluster.local');
  });

  it.each([
    'spiffe://cluster.local/ns/prod',
    'spiffe://cluster.local/ns/prod/sa/api/extra',
    'spiffe://cluster.local/x/ns/prod/sa/api',
    'spiffe://cluster.local/ns/prod/svc/api',
    'spiffe://cluster.local',
  ])('has no namespace for a non-Kubernetes path: %s', (s) => {
    const id = parseSpiffeId(s);
    expect(id.namespace).toBeNull();
    expect(id.serviceAccount).toBeNull();
  });

  it('validates bare trust domains', () => {
    expect(parseTrustDomain('example.org')).toBe('example.org');
    expect(() => parseTrustDomain('Example.org')).toThrow(SpiffeIdError);
    expect(() => parseTrustDomain('')).toThrow(SpiffeIdError);
  });
});
