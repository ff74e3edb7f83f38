/**
 * XFCC parsing from Envoy's documented examples (headers.rst), the quoting rules, and the spoofing cases: a client
 * can write every element except the one its proxy adds, so only the configured element is believed.
 */
import { describe, expect, it } from 'vitest';
import { parseXfcc, selectTrustedElement, XfccError } from '../../src/identity/xfcc.js';

const HASH = '468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688';

describe('Envoy documented examples', () => {
  it('one element with a quoted Subject and a URI', () => {
    const [el, ...rest] = parseXfcc(
      `By=http://frontend.lyft.com;Hash=${HASH};Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com`,
    );
    expect(rest).toHaveLength(0);
    expect(el).toEqual({
      by: ['http://frontend.lyft.com'],
      hash: HASH,
      cert: null,
      chain: null,
      subject: '/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client',
      uri: ['http://testclient.lyft.com'],
      dns: [],
    });
  });

  it('two elements (two hops)', () => {
    const els = parseXfcc(
      `By=http://frontend.lyft.com;Hash=${HASH};URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e;URI=http://frontend.lyft.com`,
    );
    expect(els.map((e) => e.by[0])).toEqual(['http://frontend.lyft.com', 'http://backend.lyft.com']);
    expect(els.map((e) => e.uri[0])).toEqual(['http://testclient.lyft.com', 'http://frontend.lyft.com']);
  });

  it('repeated DNS SANs', () => {
    const [el] = parseXfcc(
      `By=http://frontend.lyft.com;Hash=${HASH};Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com;DNS=lyft.com;DNS=www.lyft.com`,
    );
    expect(el!.dns).toEqual(['lyft.com', 'www.lyft.com']);
  });

  it('URI= (empty) when the client certificate has no URI SAN', () => {
    const [el] = parseXfcc(
      `By=http://frontend.lyft.com;Hash=${HASH};Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=;DNS=lyft.com;DNS=www.lyft.com`,
    );
    expect(el!.uri).toEqual([]);
  });

  it('a comma inside a quoted Subject does not split the element', () => {
    const els = parseXfcc(
      'By=spiffe://lyft.com/frontend;Hash=123456;URI=spiffe://lyft.com/testclient,By=spiffe://lyft.com/backend-team;Hash=abc;Subject="emailAddress=frontend-team@lyft.com,CN=Test Frontend Team,OU=Lyft Engineering,O=Lyft,L=San Francisco,ST=California,C=US";URI=spiffe://lyft.com/frontend-team;DNS=lyft.com;DNS=www.lyft.com',
    );
    expect(els).toHaveLength(2);
    expect(els[1]!.subject).toBe(
      'emailAddress=frontend-team@lyft.com,CN=Test Frontend Team,OU=Lyft Engineering,O=Lyft,L=San Francisco,ST=California,C=US',
    );
    expect(els[1]!.uri).toEqual(['spiffe://lyft.com/frontend-team']);
  });

  it('Cert and Chain carry URL-encoded PEM', () => {
    const [el] = parseXfcc(
      `By=http://frontend.lyft.com;Hash=${HASH};Cert="-----BEGIN%20CERTIFICATE-----%0aMIIB%0a-----END%20CERTIFICATE-----%0a";Chain="-----BEGIN%20CERTIFICATE-----%0aMIIC%0a-----END%20CERTIFICATE-----%0a";URI=spiffe://lyft.com/x`,
    );
    expect(decodeURIComponent(el!.cert!)).toContain('MIIB');
    expect(decodeURIComponent(el!.chain!)).toContain('MIIC');
  });

  it('keys are case-insensitive; escapes in quoted values', () => {
    const [el] = parseXfcc('by=spiffe://a/b;SUBJECT="CN=\\"quoted\\" \\\\ name";uri=spiffe://a/c');
    expect(el!.subject).toBe('CN="quoted" \\ name');
    expect(el!.uri).toEqual(['spiffe://a/c']);
  });

  it('elements joined with ", " by a proxy that merged two headers', () => {
    expect(parseXfcc('URI=spiffe://a/x, URI=spiffe://a/y').map((e) => e.uri[0])).toEqual([
      'spiffe://a/x',
      'spiffe://a/y',
    ]);
  });
});

describe('malformed headers are refused (xfcc_malformed)', () => {
  it.each([
    ['empty', ''],
    ['no "="', 'URI'],
    ['trailing ";"', 'URI=spiffe://a/b;'],
    ['trailing ","', 'URI=spiffe://a/b,'],
    ['empty element', 'URI=spiffe://a/b,,URI=spiffe://a/c'],
    ['unterminated quote', 'Subject="CN=x;URI=spiffe://a/b'],
    ['text after the closing quote', 'Subject="CN=x"junk;URI=spiffe://a/b'],
    ['quote inside a bare value', 'URI=spiffe://a/"b"'],
    ['"=" inside a bare value', 'URI=spiffe://a/b=c'],
    ['unknown escape', 'Subject="CN=\\x";URI=spiffe://a/b'],
    ['unknown key', 'URI=spiffe://a/b;Role=admin'],
    ['key with spaces', 'U RI=spiffe://a/b'],
    ['duplicate Hash', 'Hash=a;Hash=b'],
    ['control character', 'Subject="CN=a\u0001b"'],
    ['too long', `URI=spiffe://a/${'x'.repeat(70_000)}`],
  ])('%s', (_name, header) => {
    expect(() => parseXfcc(header)).toThrow(XfccError);
    try {
      parseXfcc(header);
    } catch (err) {
      expect((err as XfccError).code).toBe('xfcc_malformed');
    }
  });
});

describe('which element is trusted', () => {
  const spoofed = 'URI=spiffe://cluster.local/ns/admin/sa/root,URI=spiffe://cluster.local/ns/shop/sa/web';

  it('APPEND_FORWARD (`last`): the client-written first element is ignored, the proxy-added last one counts', () => {
    expect(selectTrustedElement(parseXfcc(spoofed), 'last').uri).toEqual(['spiffe://cluster.local/ns/shop/sa/web']);
  });

  it('SANITIZE_SET (`only`): two elements mean the header was not set by such a proxy (xfcc_untrusted)', () => {
    expect(() => selectTrustedElement(parseXfcc(spoofed), 'only')).toThrow(
      expect.objectContaining({ code: 'xfcc_untrusted' }),
    );
  });

  it('`only` accepts exactly one element', () => {
    expect(selectTrustedElement(parseXfcc('URI=spiffe://a/b'), 'only').uri).toEqual(['spiffe://a/b']);
  });

  it('a quoted URI cannot smuggle a second pair into the trusted element', () => {
    const [el] = parseXfcc('URI="spiffe://a/b;URI=spiffe://a/admin"');
    // One URI whose value contains ";": the verifier rejects it as an invalid SPIFFE ID, it never becomes two.
    expect(el!.uri).toEqual(['spiffe://a/b;URI=spiffe://a/admin']);
  });
});
