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

/** The parse must fail closed with this reason; the message names what was wrong (never echoes the value). */
function refusedWith(header: string): string {
  try {
    parseXfcc(header);
  } catch (err) {
    expect(err).toBeInstanceOf(XfccError);
    expect((err as XfccError).code).toBe('xfcc_malformed');
    return (err as XfccError).message.replace('the x-forwarded-client-cert header is malformed: ', '');
  }
  throw new Error(`expected ${JSON.stringify(header.slice(0, 60))} to be refused`);
}

describe('every refusal names its reason', () => {
  it.each([
    ['', 'a pair has no "="'],
    ['URI=spiffe://a/b;', 'a pair has no "="'],
    ['=spiffe://a/b', 'a key is not a plain word'],
    ['URI1=spiffe://a/b', 'a key is not a plain word'],
    [' URI=spiffe://a/b', 'a key is not a plain word'],
    ['URI=spiffe://a/b; DNS=x', 'a key is not a plain word'],
    ['Subject="CN=x', 'an unterminated quoted value'],
    ['Subject="', 'an unterminated quoted value'],
    ['Subject="CN=x\\', 'an unknown escape in a quoted value'],
    ['Subject="CN=\\n"', 'an unknown escape in a quoted value'],
    ['Subject="CN=x"URI=spiffe://a/b', 'text after a closing quote'],
    ['Subject="CN=x" ;URI=spiffe://a/b', 'text after a closing quote'],
    ['URI=spiffe://a/"b', 'a bare value contains a quote, "=" or backslash'],
    ['URI=spiffe://a/b=c', 'a bare value contains a quote, "=" or backslash'],
    ['URI=spiffe://a/b\\c', 'a bare value contains a quote, "=" or backslash'],
    ['URI=spiffe://a/b\u0000', 'a control character in a value'],
    ['URI=spiffe://a/b\u001f', 'a control character in a value'],
    ['URI=spiffe://a/b\u007f', 'a control character in a value'],
    ['URI=spiffe://a/\tb', 'a control character in a value'],
    ['Subject="CN=\u0000"', 'a control character in a value'],
    ['URI=spiffe://a/b,', 'an empty element'],
    ['URI=spiffe://a/b, ', 'an empty element'],
    ['URI=spiffe://a/b,\t', 'an empty element'],
    ['URI=spiffe://a/b;Role=admin', 'an unknown key'],
    ['Hash=a;Hash=b', 'the hash key appears twice in one element'],
    ['Cert=a;Cert=b', 'the cert key appears twice in one element'],
    ['Chain=a;chain=b', 'the chain key appears twice in one element'],
    ['Subject=a;Subject=', 'the subject key appears twice in one element'],
  ])('%j → %s', (header, reason) => {
    expect(refusedWith(header)).toBe(reason);
  });

  it('the same key in two elements is not a duplicate', () => {
    expect(parseXfcc('Hash=a;URI=spiffe://a/b,Hash=b;URI=spiffe://a/c').map((e) => e.hash)).toEqual(['a', 'b']);
  });
});

describe('size limits, from both sides', () => {
  it('a header of exactly 64 KiB is parsed; one character more is refused', () => {
    const head = 'URI=spiffe://a/';
    const exact = head + 'x'.repeat(64 * 1024 - head.length);
    expect(parseXfcc(exact)[0]!.uri[0]).toHaveLength(64 * 1024 - 4);
    expect(refusedWith(`${exact}x`)).toBe('too long');
  });

  it('32 elements are parsed; 33 are refused', () => {
    const els = (k: number) => Array.from({ length: k }, (_, i) => `URI=spiffe://a/${i}`).join(',');
    expect(parseXfcc(els(32))).toHaveLength(32);
    expect(refusedWith(els(33))).toBe('too many elements');
  });
});

describe('quoting is exact: a value is a bare token or a complete quoted string', () => {
  it('a quoted value may end the header or its element, and the next element is still read', () => {
    const els = parseXfcc('Subject="CN=a,b";URI=spiffe://a/x,Subject="CN=c",URI=spiffe://a/y;Subject="CN=\\\\"');
    expect(els.map((e) => [e.subject, e.uri])).toEqual([
      ['CN=a,b', ['spiffe://a/x']],
      ['CN=c', []],
      ['CN=\\', ['spiffe://a/y']],
    ]);
  });

  it('an escaped quote does not end the value; an empty quoted value is empty', () => {
    const [el] = parseXfcc('Subject="a\\";URI=spiffe://a/admin";URI=""');
    expect(el!.subject).toBe('a";URI=spiffe://a/admin');
    expect(el!.uri).toEqual([]);
  });

  it('By, URI and DNS collect every non-empty value, each in its own list (By is never a URI)', () => {
    const [el] = parseXfcc(
      'By=spiffe://a/gw;By=;URI=spiffe://a/x;DNS=;DNS=a.example;URI=spiffe://a/y;By=spiffe://a/g2',
    );
    expect(el).toEqual({
      by: ['spiffe://a/gw', 'spiffe://a/g2'],
      hash: null,
      cert: null,
      chain: null,
      subject: null,
      uri: ['spiffe://a/x', 'spiffe://a/y'],
      dns: ['a.example'],
    });
    expect(parseXfcc('By=spiffe://a/admin')[0]!.uri).toEqual([]);
  });

  it('a space inside a bare value is kept, so a padded URI is never silently trimmed into a valid one', () => {
    expect(parseXfcc('URI=spiffe://a/b ')[0]!.uri).toEqual(['spiffe://a/b ']);
  });

  it('tabs and spaces after "," are skipped (a proxy joining two headers)', () => {
    expect(parseXfcc('URI=spiffe://a/x,\t URI=spiffe://a/y').map((e) => e.uri[0])).toEqual([
      'spiffe://a/x',
      'spiffe://a/y',
    ]);
  });
});

describe('which element is trusted, from both sides', () => {
  it('no element at all is refused (fail closed), whatever the trust mode', () => {
    for (const trust of ['last', 'only'] as const) {
      expect(() => selectTrustedElement([], trust)).toThrow(
        expect.objectContaining({
          code: 'xfcc_malformed',
          message: 'the x-forwarded-client-cert header is malformed: no element',
        }),
      );
    }
  });

  it('`last` takes the last of three elements; `only` refuses three', () => {
    const els = parseXfcc('URI=spiffe://a/1,URI=spiffe://a/2,URI=spiffe://a/3');
    expect(selectTrustedElement(els, 'last').uri).toEqual(['spiffe://a/3']);
    expect(() => selectTrustedElement(els, 'only')).toThrow(
      expect.objectContaining({
        code: 'xfcc_untrusted',
        name: 'XfccError',
        message: 'the x-forwarded-client-cert header has more than one element',
      }),
    );
  });

  it('`last` with one element takes it', () => {
    expect(selectTrustedElement(parseXfcc('URI=spiffe://a/1'), 'last').uri).toEqual(['spiffe://a/1']);
  });
});
