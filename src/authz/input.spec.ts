import { describe, expect, it } from 'vitest';
import { CheckRequestType, decodeCheckRequest } from '../server/codec.js';
import { InvalidCheckRequest, toCheckInput } from './input.js';
import type { WireAttributeContext, WireCheckRequest, WireHttpRequest } from './wire-types.js';

function roundTrip(obj: Record<string, unknown>): WireCheckRequest {
  const bytes = CheckRequestType.encode(CheckRequestType.fromObject(obj)).finish();
  const decoded = decodeCheckRequest(bytes);
  if ('malformed' in decoded) throw new Error(decoded.malformed);
  return decoded;
}

describe('toCheckInput', () => {
  it('splits the query and fragment from the raw path without decoding it', () => {
    const input = toCheckInput(
      roundTrip({ attributes: { request: { http: { method: 'GET', path: '/a%2Fb?x=1#f', host: 'Shop.example' } } } }),
    );
    expect(input.rawPath).toBe('/a%2Fb?x=1#f');
    expect(input.path).toBe('/a%2Fb');
    expect(input.query).toBe('x=1');
    expect(input.host).toBe('Shop.example');
  });

  it('rejects a request without HTTP attributes', () => {
    expect(() => toCheckInput(roundTrip({ attributes: {} }))).toThrow(InvalidCheckRequest);
  });

  it('rejects paths over the limit instead of evaluating them', () => {
    const path = `/${'a'.repeat(100)}`;
    const req = roundTrip({ attributes: { request: { http: { method: 'GET', path } } } });
    expect(() => toCheckInput(req, { maxPathBytes: 50, maxHeaderBytes: 1000, maxHeaders: 10 })).toThrow(/longer/);
  });

  it('joins duplicate header_map entries with a comma, as Envoy does for headers', () => {
    const input = toCheckInput(
      roundTrip({
        attributes: {
          request: {
            http: {
              method: 'GET',
              path: '/',
              headerMap: {
                headers: [
                  { key: 'X-A', value: '1' },
                  { key: 'x-a', rawValue: Buffer.from('2') },
                ],
              },
            },
          },
        },
      }),
    );
    expect(input.headers['x-a']).toBe('1,2');
  });

  it('turns a malformed protobuf into a reason, not an exception', () => {
    expect(decodeCheckRequest(Buffer.from([0x0a, 0xff, 0xff]))).toHaveProperty('malformed');
  });
});

/** A CheckRequest with the given `attributes.request.http` fields (GET / unless overridden). */
const withHttp = (http: Record<string, unknown>, attributes: Record<string, unknown> = {}) =>
  roundTrip({ attributes: { ...attributes, request: { http: { method: 'GET', path: '/', ...http } } } });
const LIMITS = { maxPathBytes: 8, maxHeaderBytes: 20, maxHeaders: 2 };

describe('toCheckInput: what the policy reads, both sides of every rule', () => {
  it('a request without a method or without a path is refused, not evaluated with an empty value', () => {
    expect(() => toCheckInput(withHttp({ method: '' }))).toThrow(/no HTTP method/);
    expect(() => toCheckInput(withHttp({ path: '' }))).toThrow(/no HTTP path/);
    expect(() => toCheckInput(roundTrip({ attributes: { request: {} } }))).toThrow(/no attributes.request.http/);
    expect(() => toCheckInput(roundTrip({}))).toThrow(InvalidCheckRequest);
    expect(toCheckInput(withHttp({ method: 'POST', path: '/x' }))).toMatchObject({ method: 'POST', path: '/x' });
  });

  it('the path limit counts UTF-8 bytes: exactly the limit passes, one byte more is refused', () => {
    expect(toCheckInput(withHttp({ path: '/1234567' }), LIMITS).path).toBe('/1234567');
    expect(() => toCheckInput(withHttp({ path: '/12345678' }), LIMITS)).toThrow(/longer than 8 bytes/);
    // Five characters, ten bytes: measured in bytes, as on the wire.
    expect(() => toCheckInput(withHttp({ path: '/\u00e9\u00e9\u00e9\u20ac' }), LIMITS)).toThrow(/longer/);
  });

  it('the path ends at the first "?" or "#", whichever comes first; the query never includes a fragment', () => {
    const at = (path: string) => {
      const i = toCheckInput(withHttp({ path }));
      return [i.path, i.query];
    };
    expect(at('/a/b')).toEqual(['/a/b', '']);
    expect(at('/a?x=1')).toEqual(['/a', 'x=1']);
    expect(at('/a#frag?x=1')).toEqual(['/a', '']);
    expect(at('/a?x=1#frag')).toEqual(['/a', 'x=1']);
    expect(at('/a?x=1?y#f#g')).toEqual(['/a', 'x=1?y']);
    expect(at('?x')).toEqual(['', 'x']);
    // A fragment without a query still ends the path, also when it comes first.
    expect(at('/a#frag')).toEqual(['/a', '']);
    expect(at('#x?y')).toEqual(['', '']);
  });

  it('host: the HTTP host field first, then the :authority header, then the host header', () => {
    expect(toCheckInput(withHttp({ host: 'a.example', headers: { ':authority': 'b', host: 'c' } })).host).toBe(
      'a.example',
    );
    expect(toCheckInput(withHttp({ headers: { ':authority': 'b.example', host: 'c' } })).host).toBe('b.example');
    expect(toCheckInput(withHttp({ headers: { host: 'c.example' } })).host).toBe('c.example');
    expect(toCheckInput(withHttp({})).host).toBe('');
  });

  it('headers or header_map, never both; an empty headers map with a header_map reads the header_map', () => {
    const map = { headers: [{ key: 'X-Role', value: 'admin' }] };
    expect(() => toCheckInput(withHttp({ headers: { 'x-role': 'user' }, headerMap: map }))).toThrow(/ambiguous/);
    expect(toCheckInput(withHttp({ headers: { 'x-role': 'user' } })).headers['x-role']).toBe('user');
    expect(toCheckInput(withHttp({ headerMap: map })).headers['x-role']).toBe('admin');
    expect(toCheckInput(withHttp({ headers: {}, headerMap: map })).headers['x-role']).toBe('admin');
    expect(toCheckInput(withHttp({ headers: { 'x-role': 'user' }, headerMap: { headers: [] } })).headers).toEqual({
      'x-role': 'user',
    });
    expect(toCheckInput(withHttp({ headerMap: { headers: [{ key: 'x-empty' }] } })).headers['x-empty']).toBe('');
  });

  it('header limits: the count and the UTF-8 bytes of names and values, exactly at the limit passes', () => {
    expect(Object.keys(toCheckInput(withHttp({ headers: { a: '1', b: '2' } }), LIMITS).headers)).toHaveLength(2);
    expect(() => toCheckInput(withHttp({ headers: { a: '1', b: '2', c: '3' } }), LIMITS)).toThrow(
      /more than 2 headers/,
    );
    // 'abcd' + 16 bytes = 20: at the limit. One more byte, in a name or as a multi-byte value, is over it.
    expect(toCheckInput(withHttp({ headers: { abcd: '0123456789abcdef' } }), LIMITS).headers.abcd).toHaveLength(16);
    expect(() => toCheckInput(withHttp({ headers: { abcde: '0123456789abcdef' } }), LIMITS)).toThrow(/exceed 20/);
    expect(() => toCheckInput(withHttp({ headers: { abcd: '0123456789abcde\u00e9' } }), LIMITS)).toThrow(/exceed/);
    expect(() =>
      toCheckInput(
        withHttp({ headerMap: { headers: [{ key: 'a', value: '1' }, { key: 'b' }, { key: 'c' }] } }),
        LIMITS,
      ),
    ).toThrow(/more than 2/);
  });

  it('reads the SNI, the peers and the filter metadata the policy can match on', () => {
    const input = toCheckInput(
      withHttp(
        {},
        {
          tlsSession: { sni: 'orders.shop' },
          source: {
            principal: 'spiffe://td/ns/a/sa/b',
            address: { socketAddress: { address: '10.0.0.1', portValue: 5 } },
          },
          destination: { address: { socketAddress: { address: '10.0.0.2', portValue: 8080 } } },
          metadataContext: {
            filterMetadata: { 'envoy.filters.http.jwt_authn': { fields: { k: { stringValue: 'v' } } } },
          },
        },
      ),
    );
    expect(input.sni).toBe('orders.shop');
    expect(input.source).toMatchObject({ principal: 'spiffe://td/ns/a/sa/b', address: '10.0.0.1', port: 5 });
    expect(input.destination).toMatchObject({ principal: '', address: '10.0.0.2', port: 8080 });
    expect(input.filterMetadata).toEqual({ 'envoy.filters.http.jwt_authn': { k: 'v' } });
    expect(toCheckInput(withHttp({}))).toMatchObject({ sni: '', scheme: '', protocol: '', filterMetadata: {} });
  });

  it('request id: x-request-id, else the stream id; request time from attributes.request.time', () => {
    expect(toCheckInput(withHttp({ id: 's1', headers: { 'x-request-id': 'r1' } })).requestId).toBe('r1');
    expect(toCheckInput(withHttp({ id: 's1' })).requestId).toBe('s1');
    expect(toCheckInput(withHttp({})).requestId).toBe('');
    const timed = roundTrip({
      attributes: {
        request: { time: { seconds: 1700000000, nanos: 250_000_000 }, http: { method: 'GET', path: '/' } },
      },
    });
    expect(toCheckInput(timed).requestTime).toBe(1_700_000_000_250);
    expect(toCheckInput(withHttp({})).requestTime).toBe(null);
  });
});

/**
 * The wire types leave every field optional: a message built in code (not decoded, so no protobuf defaults) must read
 * the same as its decoded form, with '' for every absent string and a refusal for an absent method or path.
 */
describe('toCheckInput on a sparse message (absent fields, no protobuf defaults)', () => {
  const sparse = (http: WireHttpRequest, attributes: Omit<WireAttributeContext, 'request'> = {}): WireCheckRequest => ({
    attributes: { ...attributes, request: { http } },
  });

  it('an absent method or path is refused with the code invalid_request', () => {
    for (const http of [{ path: '/' }, { method: 'GET' }]) {
      const thrown = (() => {
        try {
          toCheckInput(sparse(http));
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(thrown).toBeInstanceOf(InvalidCheckRequest);
      expect(thrown).toMatchObject({ name: 'InvalidCheckRequest', code: 'invalid_request' });
    }
  });

  it('absent strings read as empty, never as a stand-in value', () => {
    const input = toCheckInput(sparse({ method: 'GET', path: '/' }));
    const none = { address: '', port: 0, principal: '', certificate: '', service: '', labels: {} };
    expect(input.source).toEqual(none);
    expect(input.destination).toEqual(none);
    expect(input).toMatchObject({ host: '', scheme: '', protocol: '', sni: '', requestId: '', requestTime: null });
    expect(input.headers).toEqual({});
    const peerOnly = toCheckInput(sparse({ method: 'GET', path: '/' }, { destination: { address: {} } }));
    expect(peerOnly.destination).toEqual(none);
  });

  it('absent header names and values read as empty, and still count against the limits', () => {
    const input = toCheckInput(
      sparse({ method: 'GET', path: '/', headerMap: { headers: [{ value: 'v' }, { key: 'k' }] } }),
    );
    expect(input.headers).toEqual({ '': 'v', k: '' });
    const plain = toCheckInput(sparse({ method: 'GET', path: '/', headers: { a: undefined as unknown as string } }));
    expect(plain.headers).toEqual({ a: '' });
    // 'k' is one byte: within a one-byte budget only if an absent value counts as zero bytes.
    expect(() =>
      toCheckInput(sparse({ method: 'GET', path: '/', headerMap: { headers: [{ key: 'k' }] } }), {
        maxPathBytes: 10,
        maxHeaderBytes: 1,
        maxHeaders: 5,
      }),
    ).not.toThrow();
  });

  it('request time: seconds as a number or as a Long, nanos optional', () => {
    const at = (seconds: number | { toNumber(): number }, nanos?: number) =>
      toCheckInput({
        attributes: {
          request: { time: { seconds, ...(nanos === undefined ? {} : { nanos }) }, http: { method: 'GET', path: '/' } },
        },
      }).requestTime;
    expect(at(1_700_000_000, 5e8)).toBe(1_700_000_000_500);
    expect(at(1_700_000_000)).toBe(1_700_000_000_000);
    expect(at({ toNumber: () => 1_700_000_001 })).toBe(1_700_000_001_000);
    expect(at(0)).toBe(null);
  });
});
