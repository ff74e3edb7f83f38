import { describe, expect, it } from 'vitest';
import { InvalidCheckRequest, toCheckInput } from '../authz/input.js';
import type { MalformedRequest, WireCheckRequest } from '../authz/wire-types.js';
import { readCheckRequest } from './check-decoder.js';
import { CheckRequestType } from './codec.js';

const LIMITS = { maxPathBytes: 100, maxHeaderBytes: 200, maxHeaders: 5, maxLabels: 3 };

function bytes(req: WireCheckRequest): Buffer {
  return Buffer.from(CheckRequestType.encode(req as unknown as Parameters<typeof CheckRequestType.encode>[0]).finish());
}

function http(headers: Record<string, string>, path = '/x'): WireCheckRequest {
  return { attributes: { request: { http: { method: 'GET', path, headers } } } };
}

function ok(result: WireCheckRequest | MalformedRequest): WireCheckRequest {
  if ('malformed' in result) throw new Error(result.malformed);
  return result;
}

function refusal(result: WireCheckRequest | MalformedRequest): string {
  return 'malformed' in result ? result.malformed : 'accepted';
}

/** A protobuf field: tag (number << 3 | wire type) then the payload, hand-built to say exactly what is on the wire. */
function field(number: number, wireType: number, payload: Buffer): Buffer {
  return Buffer.concat([varint(number * 8 + wireType), payload]);
}
function lenField(number: number, payload: Buffer | string): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return field(number, 2, Buffer.concat([varint(p.length), p]));
}
function varint(n: number): Buffer {
  const out: number[] = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return Buffer.from(out);
}
/** CheckRequest{attributes{request{http{...fields}}}}. */
/**
 * `attributes.metadata_context` (field 11) with one filter `ns` (filter_metadata, field 1) holding a Struct with
 * one field `k` whose Value is `value` (Value bytes as given).
 */
function filterMetadata(value: Buffer): Buffer {
  const struct = lenField(1, Buffer.concat([lenField(1, 'k'), lenField(2, value)]));
  return lenField(11, lenField(1, Buffer.concat([lenField(1, 'ns'), lenField(2, struct)])));
}

function httpBytes(...fields: Buffer[]): Buffer {
  return lenField(1, lenField(4, lenField(2, Buffer.concat(fields))));
}

describe('readCheckRequest: limits judged while reading', () => {
  it('passes a request within every limit, and one at the limits', () => {
    expect(refusal(readCheckRequest(bytes(http({ a: 'b' })), LIMITS))).toBe('accepted');
    const five = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`h${i}`, 'v']));
    expect(refusal(readCheckRequest(bytes(http(five, `/${'p'.repeat(99)}`)), LIMITS))).toBe('accepted');
    // 66 × '€' = 198 bytes + the 1-byte name: 199, under 200.
    expect(refusal(readCheckRequest(bytes(http({ a: '€'.repeat(66) })), LIMITS))).toBe('accepted');
  });

  it('counts headers, header bytes (UTF-8) and path bytes (UTF-8)', () => {
    const six = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`h${i}`, 'v']));
    expect(refusal(readCheckRequest(bytes(http(six)), LIMITS))).toBe(
      'over a limit, refused while decoding: more than 5 headers',
    );
    // 67 characters, 201 bytes with the name.
    expect(refusal(readCheckRequest(bytes(http({ a: '€'.repeat(67) })), LIMITS))).toMatch(/headers exceed 200 bytes$/);
    expect(refusal(readCheckRequest(bytes(http({}, `/${'é'.repeat(50)}`)), LIMITS))).toMatch(
      /the path is longer than 100 bytes$/,
    );
  });

  it('counts header_map entries (value or raw_value) together with headers', () => {
    const req = http({ a: '1', b: '2', c: '3' });
    req.attributes!.request!.http!.headerMap = {
      headers: [
        { key: 'd', value: '4' },
        { key: 'e', rawValue: Buffer.from('5') },
      ],
    };
    expect(refusal(readCheckRequest(bytes(req), LIMITS))).toBe('accepted');
    req.attributes!.request!.http!.headerMap.headers!.push({ key: 'f', value: '6' });
    expect(refusal(readCheckRequest(bytes(req), LIMITS))).toMatch(/more than 5 headers$/);
    const big = http({});
    big.attributes!.request!.http!.headerMap = { headers: [{ key: 'k', rawValue: Buffer.alloc(200) }] };
    expect(refusal(readCheckRequest(bytes(big), LIMITS))).toMatch(/headers exceed 200 bytes$/);
  });

  it('counts across repeated occurrences of the attributes field (protobuf merges them)', () => {
    const part = bytes(http({ a: '1', b: '2', c: '3' }));
    expect(refusal(readCheckRequest(Buffer.concat([part, part]), LIMITS))).toMatch(/more than 5 headers$/);
  });

  it('counts source labels, destination labels and context extensions, each on its own', () => {
    const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'v']));
    const base = http({});
    const at = (over: Partial<Record<'source' | 'destination' | 'ext', number>>) =>
      refusal(
        readCheckRequest(
          bytes({
            attributes: {
              ...base.attributes,
              source: { labels: labels(over.source ?? 3) },
              destination: { labels: labels(over.destination ?? 3) },
              contextExtensions: labels(over.ext ?? 3),
            },
          }),
          LIMITS,
        ),
      );
    expect(at({})).toBe('accepted');
    expect(at({ source: 4 })).toMatch(/more than 3 source labels$/);
    expect(at({ destination: 4 })).toMatch(/more than 3 destination labels$/);
    expect(at({ ext: 4 })).toMatch(/more than 3 context extensions$/);
  });

  it('judges nothing without limits (the offline tools decode whatever they are given)', () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`h${i}`, 'v']));
    expect(Object.keys(ok(readCheckRequest(bytes(http(many)))).attributes!.request!.http!.headers!)).toHaveLength(50);
  });
});

describe('readCheckRequest: malformed bytes are a reason, never an exception', () => {
  const good = bytes(http({ a: 'b' }, '/ok'));

  it('refuses truncated messages and garbage', () => {
    for (let cut = 1; cut < good.length; cut++) {
      expect(refusal(readCheckRequest(good.subarray(0, cut)))).toMatch(/^invalid CheckRequest at byte \d+: /);
    }
    expect(refusal(readCheckRequest(Buffer.from([0xff, 0xff, 0xff])))).toMatch(/truncated varint|field/);
    expect(refusal(readCheckRequest(Buffer.from([0x0a, 0xff, 0xff])))).toMatch(/^invalid CheckRequest/);
    expect(refusal(readCheckRequest(Buffer.from([0x0a, 0x05, 0x22])))).toMatch(/past the end/);
  });

  it('refuses a known field sent with another wire type (protobufjs would read it as the expected type)', () => {
    // path (field 4) as a varint: a string field's bytes cannot be a number.
    expect(refusal(readCheckRequest(httpBytes(lenField(2, 'GET'), field(4, 0, varint(7)))))).toMatch(
      /field 4 has wire type 0, expected 2/,
    );
    // attributes (field 1) as fixed32.
    expect(refusal(readCheckRequest(field(1, 5, Buffer.alloc(4))))).toMatch(/field 1 has wire type 5/);
  });

  it('refuses groups, field number 0 and over-long varints (not proto3)', () => {
    expect(refusal(readCheckRequest(httpBytes(lenField(2, 'GET'), field(9, 3, Buffer.alloc(0)))))).toMatch(
      /wire type 3/,
    );
    expect(refusal(readCheckRequest(Buffer.from([0x02, 0x00])))).toMatch(/field number 0/);
    expect(refusal(readCheckRequest(Buffer.from([0x10, ...Array(10).fill(0x80), 0x01])))).toMatch(
      /longer than 10 bytes/,
    );
  });

  it('refuses a string field the core reads that is not UTF-8, but keeps a real U+FFFD', () => {
    const bad = Buffer.from([0x2f, 0xc3, 0x28]);
    expect(refusal(readCheckRequest(httpBytes(lenField(2, 'GET'), lenField(4, bad))))).toMatch(/not UTF-8/);
    expect(
      refusal(
        readCheckRequest(
          httpBytes(
            lenField(2, 'GET'),
            lenField(4, '/x'),
            lenField(3, Buffer.concat([lenField(1, 'h'), lenField(2, bad)])),
          ),
        ),
      ),
    ).toMatch(/not UTF-8/);
    const replacement = ok(readCheckRequest(httpBytes(lenField(2, 'GET'), lenField(4, '/\uFFFD'))));
    expect(replacement.attributes!.request!.http!.path).toBe('/\uFFFD');
  });

  it('skips fields the core never reads, even when protobufjs would refuse them (body that is not UTF-8)', () => {
    const req = readCheckRequest(httpBytes(lenField(2, 'GET'), lenField(4, '/x'), lenField(11, Buffer.from([0xc3]))));
    expect(ok(req).attributes!.request!.http!.path).toBe('/x');
    expect(ok(req).attributes!.request!.http!.body).toBeUndefined();
  });

  it('refuses metadata nested past the depth limit instead of recursing without end', () => {
    let value = lenField(3, 'leaf'); // Value{string_value}
    for (let i = 0; i < 40; i++)
      value = lenField(5, lenField(1, Buffer.concat([lenField(1, 'k'), lenField(2, value)])));
    const meta = filterMetadata(value);
    const req = Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), lenField(1, meta)]);
    expect(refusal(readCheckRequest(req))).toMatch(/nested deeper than 32 levels/);
  });
});

describe('readCheckRequest: protobuf rules', () => {
  it('merges repeated occurrences of a message field, the last scalar winning', () => {
    const first = bytes(http({ a: '1' }, '/first'));
    const second = bytes({ attributes: { request: { http: { path: '/second', headers: { b: '2' } } } } });
    const merged = ok(readCheckRequest(Buffer.concat([first, second])));
    const h = merged.attributes!.request!.http!;
    expect(h.path).toBe('/second');
    expect(h.method).toBe('GET');
    expect({ ...h.headers }).toEqual({ a: '1', b: '2' });
  });

  it('keeps the last member of a oneof: a pipe address clears the socket address, a named port the number', () => {
    const socket = lenField(1, Buffer.concat([lenField(2, '10.0.0.1'), field(3, 0, varint(8080))]));
    const viaPipe = lenField(
      1,
      lenField(2, Buffer.concat([lenField(1, Buffer.concat([socket, lenField(2, lenField(1, '/sock'))]))])),
    );
    const input = toCheckInput(
      ok(readCheckRequest(Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), viaPipe]))),
    );
    expect(input.destination.address).toBe('');
    const named = lenField(
      1,
      lenField(
        1,
        lenField(
          1,
          lenField(1, Buffer.concat([lenField(2, '10.0.0.1'), field(3, 0, varint(8080)), lenField(4, 'http')])),
        ),
      ),
    );
    const input2 = toCheckInput(
      ok(readCheckRequest(Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), named]))),
    );
    expect(input2.source).toMatchObject({ address: '10.0.0.1', port: 0 });
  });

  it('reads int64 seconds and int32 nanos in two’s complement (a negative time is no time)', () => {
    const at = (seconds: number, nanos: number) =>
      toCheckInput(
        ok(
          readCheckRequest(
            Buffer.concat([
              httpBytes(lenField(2, 'GET'), lenField(4, '/')),
              lenField(
                1,
                lenField(4, lenField(1, Buffer.concat([field(1, 0, varint(seconds)), field(2, 0, varint(nanos))]))),
              ),
            ]),
          ),
        ),
      ).requestTime;
    expect(at(1_767_225_600, 250_000_000)).toBe(1_767_225_600_250);
    expect(at(-5, 0)).toBeNull();
    // The most negative int64 (-2^63, on the wire 2^63) is negative too, not a time 2^63 seconds from now.
    expect(at(-(2 ** 63), 0)).toBeNull();
    expect(at(2 ** 53, 0)).toBe(2 ** 53 * 1000);
    expect(at(10, -1)).toBe(9_999);
  });

  it('builds maps without a prototype: a header or label named __proto__ or constructor is only itself', () => {
    const req = bytes({
      attributes: {
        request: { http: { method: 'GET', path: '/', headers: JSON.parse('{"__proto__":"p","constructor":"c"}') } },
        destination: { labels: { constructor: 'x' } },
      },
    });
    const decoded = ok(readCheckRequest(req));
    const headers = decoded.attributes!.request!.http!.headers!;
    expect('toString' in headers).toBe(false);
    expect(Object.keys(headers).sort()).toEqual(['__proto__', 'constructor']);
    expect(headers.constructor).toBe('c');
    expect(decoded.attributes!.destination!.labels!.constructor).toBe('x');
    expect(toCheckInput(decoded).headers.toString).toBeUndefined();
  });

  it('reads what toCheckInput needs exactly as protobufjs does (Envoy-shaped request)', () => {
    const req = {
      attributes: {
        source: {
          address: { socketAddress: { address: '10.1.2.3', portValue: 41234 } },
          principal: 'spiffe://cluster.local/ns/a/sa/b',
          certificate: '-----BEGIN%20CERTIFICATE-----',
          labels: { app: 'a' },
        },
        destination: { address: { socketAddress: { address: '10.4.5.6', portValue: 8080 } }, service: 'svc' },
        request: {
          time: { seconds: 1_767_225_600, nanos: 5_000_000 },
          http: {
            id: '42',
            method: 'POST',
            path: '/p?q=1#f',
            host: 'h',
            scheme: 'https',
            protocol: 'HTTP/2',
            headers: { ':authority': 'h', 'x-request-id': 'r' },
          },
        },
        contextExtensions: { namespace: 'ns' },
        metadataContext: {
          filterMetadata: {
            f: {
              fields: {
                s: { stringValue: 'x' },
                n: { numberValue: 1.5 },
                b: { boolValue: true },
                z: { nullValue: 0 },
                l: {
                  listValue: {
                    values: [{ stringValue: 'y' }, { structValue: { fields: { k: { boolValue: false } } } }],
                  },
                },
              },
            },
          },
        },
        tlsSession: { sni: 'sni.example' },
      },
    };
    const encoded = bytes(req as WireCheckRequest);
    const ours = toCheckInput(ok(readCheckRequest(encoded, { ...LIMITS, maxLabels: 10 })), undefined, 0);
    const theirs = toCheckInput(CheckRequestType.decode(encoded) as unknown as WireCheckRequest, undefined, 0);
    expect(JSON.parse(JSON.stringify(ours))).toEqual(JSON.parse(JSON.stringify(theirs)));
    expect(ours.filterMetadata).toEqual({ f: { s: 'x', n: 1.5, b: true, z: null, l: ['y', { k: false }] } });
  });
});

describe('toCheckInput byte limits (after decoding: the second line)', () => {
  const limits = { maxPathBytes: 100, maxHeaderBytes: 200, maxHeaders: 5 };
  it('counts UTF-8 bytes, not UTF-16 units', () => {
    expect(() => toCheckInput(http({}, `/${'é'.repeat(50)}`), limits)).toThrow(InvalidCheckRequest);
    expect(() => toCheckInput(http({}, `/${'é'.repeat(49)}`), limits)).not.toThrow();
    expect(() => toCheckInput(http({ a: '€'.repeat(67) }), limits)).toThrow(/headers exceed 200 bytes/);
    expect(() => toCheckInput(http({ a: '€'.repeat(66) }), limits)).not.toThrow();
  });
});

/**
 * Unknown fields of every wire type at every level of the message (protobuf: skipped), and the edges of the wire
 * format. Each case states what a sloppy reader would get wrong.
 */
describe('readCheckRequest: unknown fields are skipped at every level, and the wire format edges hold', () => {
  /** One unknown field of each wire type (varint, fixed64, length-delimited, fixed32), numbered past any real one. */
  const junk = (on: boolean) =>
    on
      ? Buffer.concat([
          field(50, 0, varint(5)),
          // Bytes that read as neither a length nor a run of valid fields, should a fixed64 be taken for one.
          field(51, 1, Buffer.from([0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])),
          lenField(52, 'zz'),
          field(53, 5, Buffer.alloc(4, 9)),
        ])
      : Buffer.alloc(0);
  const msg = (n: number, j: boolean, ...parts: Buffer[]) => lenField(n, Buffer.concat([junk(j), ...parts]));
  const entry = (n: number, j: boolean, key: Buffer, value: Buffer) => msg(n, j, key, value);

  function envoyShaped(j: boolean, headerMap: boolean): Buffer {
    const socket = msg(1, j, lenField(2, '10.0.0.1'), field(3, 0, varint(8080)));
    const source = msg(
      1,
      j,
      msg(1, j, socket),
      lenField(4, 'spiffe://td/ns/a/sa/b'),
      entry(3, j, lenField(1, 'app'), lenField(2, 'web')),
    );
    const headers = headerMap
      ? msg(
          13,
          j,
          msg(1, j, lenField(1, 'X-A'), lenField(2, '1')),
          msg(1, j, lenField(1, 'x-b'), lenField(3, Buffer.from('2'))),
        )
      : entry(3, j, lenField(1, 'x-a'), lenField(2, '1'));
    const http = msg(2, j, lenField(2, 'GET'), lenField(4, '/p'), lenField(5, 'h'), headers);
    const time = msg(1, j, field(1, 0, varint(1_767_225_600)), field(2, 0, varint(7_000_000)));
    const value = (v: Buffer) => msg(2, j, v);
    const struct = msg(
      2,
      j,
      entry(1, j, lenField(1, 's'), value(lenField(3, 'x'))),
      entry(1, j, lenField(1, 'l'), value(msg(6, j, msg(1, j, field(4, 0, varint(1)))))),
    );
    const metadata = msg(11, j, entry(1, j, lenField(1, 'ns'), struct));
    const attributes = msg(
      1,
      j,
      source,
      msg(4, j, time, http),
      entry(10, j, lenField(1, 'namespace'), lenField(2, 'shop')),
      metadata,
      msg(12, j, lenField(1, 'sni.example')),
    );
    return Buffer.concat([junk(j), attributes]);
  }

  it('reads the same request with and without unknown fields of every wire type at every level', () => {
    for (const headerMap of [false, true]) {
      const plain = toCheckInput(ok(readCheckRequest(envoyShaped(false, headerMap), LIMITS)), undefined, 0);
      const withJunk = toCheckInput(ok(readCheckRequest(envoyShaped(true, headerMap), LIMITS)), undefined, 0);
      expect(withJunk).toEqual(plain);
      expect(plain).toMatchObject({
        method: 'GET',
        rawPath: '/p',
        host: 'h',
        sni: 'sni.example',
        requestTime: 1_767_225_600_007,
        source: { address: '10.0.0.1', port: 8080, principal: 'spiffe://td/ns/a/sa/b', labels: { app: 'web' } },
        contextExtensions: { namespace: 'shop' },
        filterMetadata: { ns: { s: 'x', l: [true] } },
      });
      expect(plain.headers).toEqual(headerMap ? { 'x-a': '1', 'x-b': '2' } : { 'x-a': '1' });
    }
  });

  it('keeps the socket address when a field that is not another oneof member follows it', () => {
    // SocketAddress.protocol (1) after the port, and an unknown Address field after the socket address.
    const socket = lenField(
      1,
      Buffer.concat([lenField(2, '10.0.0.1'), field(3, 0, varint(80)), field(1, 0, varint(1))]),
    );
    // attributes → source → address → (socket_address, unknown field 9)
    const peer = lenField(1, lenField(1, lenField(1, Buffer.concat([socket, lenField(9, 'x')]))));
    const input = toCheckInput(
      ok(readCheckRequest(Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), peer]))),
    );
    expect(input.source).toMatchObject({ address: '10.0.0.1', port: 80 });
  });

  it('clears the socket address when an envoy_internal_address follows it (the other oneof member)', () => {
    const socket = lenField(1, Buffer.concat([lenField(2, '10.0.0.1'), field(3, 0, varint(80))]));
    const peer = lenField(1, lenField(1, lenField(1, Buffer.concat([socket, lenField(3, lenField(1, 'listener'))]))));
    const input = toCheckInput(
      ok(readCheckRequest(Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), peer]))),
    );
    expect(input.source.address).toBe('');
  });

  it('refuses a fixed-size field that runs past the end of its own message', () => {
    // attributes { request{...}, field 51 fixed64 with 4 of its 8 bytes }, then 4 more bytes after attributes.
    const attributes = Buffer.concat([lenField(4, lenField(2, lenField(2, 'GET'))), field(51, 1, Buffer.alloc(4))]);
    const bytes = Buffer.concat([lenField(1, attributes), Buffer.alloc(4)]);
    expect(refusal(readCheckRequest(bytes))).toMatch(/fixed-size field runs past the end/);
    // One that ends exactly where its message ends is fine.
    const exact = Buffer.concat([lenField(4, lenField(2, lenField(2, 'GET'))), field(51, 1, Buffer.alloc(8))]);
    expect(refusal(readCheckRequest(lenField(1, exact)))).toBe('accepted');
    const fixed32 = Buffer.concat([lenField(4, lenField(2, lenField(2, 'GET'))), field(53, 5, Buffer.alloc(2))]);
    expect(refusal(readCheckRequest(Buffer.concat([lenField(1, fixed32), Buffer.alloc(2)])))).toMatch(
      /fixed-size field runs past the end/,
    );
  });

  it('reads the low 32 bits of a uint32 sent as a longer varint, as protobuf does', () => {
    // port_value = 2^35 + 80: only the low 32 bits (80) are the field's value.
    const socket = lenField(1, Buffer.concat([lenField(2, '10.0.0.1'), field(3, 0, varint(2 ** 35 + 80))]));
    const peer = lenField(1, lenField(1, lenField(1, socket)));
    const input = toCheckInput(
      ok(readCheckRequest(Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), peer]))),
    );
    expect(input.source.port).toBe(80);
    // An 11-byte varint in the same field is not protobuf.
    const tooLong = lenField(
      1,
      lenField(1, lenField(1, lenField(1, Buffer.from([0x18, ...Array(10).fill(0xff), 0x01])))),
    );
    expect(
      refusal(readCheckRequest(Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), tooLong]))),
    ).toMatch(/longer than 10 bytes/);
  });

  it('refuses a varint cut off by the end of its own message, even when the bytes after it would complete it', () => {
    // attributes { request { http { method "GET" } }, then a field 50 tag whose varint value is cut: 0x80 ends it }
    const attributes = Buffer.concat([lenField(4, lenField(2, lenField(2, 'GET'))), Buffer.from([0x90, 0x03, 0x80])]);
    const bytes = Buffer.concat([lenField(1, attributes), Buffer.from([0x01])]);
    expect(refusal(readCheckRequest(bytes))).toMatch(/truncated varint/);
    // A tag cut the same way.
    const cutTag = Buffer.concat([
      lenField(1, Buffer.concat([lenField(4, lenField(2, lenField(2, 'GET'))), Buffer.from([0x90])])),
      Buffer.from([0x03]),
    ]);
    expect(refusal(readCheckRequest(cutTag))).toMatch(/truncated varint/);
    // A tag whose value is missing altogether: the byte after the message would be read as that value.
    const noValue = Buffer.concat([
      lenField(1, Buffer.concat([lenField(4, lenField(2, lenField(2, 'GET'))), Buffer.from([0xb0, 0x03])])),
      Buffer.from([0x01]),
    ]);
    expect(refusal(readCheckRequest(noValue))).toMatch(/truncated varint/);
    // The same for a uint32 field (a port tag last in its SocketAddress).
    const socket = lenField(1, Buffer.concat([lenField(2, '10.0.0.1'), Buffer.from([0x18])]));
    const noPort = Buffer.concat([lenField(1, lenField(1, lenField(1, socket))), Buffer.from([0x50])]);
    expect(refusal(readCheckRequest(Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), noPort])))).toMatch(
      /truncated varint/,
    );
  });

  it('refuses a field tag over 32 bits (it would alias a real field number once truncated)', () => {
    // 2^32 + 0x0a: truncated to 32 bits this is field 1, length-delimited.
    const tag = varint(2 ** 32 + 0x0a);
    const bytes = Buffer.concat([tag, varint(0)]);
    expect(refusal(readCheckRequest(bytes))).toMatch(/tag over 32 bits/);
  });

  it('refuses a double cut short, and a byte 0x80 alone in a short string', () => {
    const value = Buffer.concat([field(2, 1, Buffer.alloc(4))]); // number_value with 4 of its 8 bytes
    const meta = filterMetadata(value);
    expect(
      refusal(readCheckRequest(Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), lenField(1, meta)]))),
    ).toMatch(/truncated double/);
    const lone = Buffer.from([0x2f, 0x80]);
    expect(refusal(readCheckRequest(httpBytes(lenField(2, 'GET'), lenField(4, lone))))).toMatch(/not UTF-8/);
    // A short non-ASCII string that is UTF-8 is read as such.
    expect(
      ok(readCheckRequest(httpBytes(lenField(2, 'GET'), lenField(4, '/é€')))).attributes!.request!.http!.path,
    ).toBe('/é€');
  });

  it('counts header bytes up to the limit exactly: 200 bytes pass, 201 do not', () => {
    expect(refusal(readCheckRequest(bytes(http({ a: 'v'.repeat(199) })), LIMITS))).toBe('accepted');
    expect(refusal(readCheckRequest(bytes(http({ a: 'v'.repeat(200) })), LIMITS))).toMatch(/headers exceed 200 bytes$/);
  });

  it('reads map entries without a key or a value as empty, as protobuf defaults them', () => {
    const onlyValue = lenField(3, lenField(2, 'v'));
    const onlyKey = lenField(3, lenField(1, 'k'));
    const decoded = ok(readCheckRequest(httpBytes(lenField(2, 'GET'), lenField(4, '/'), onlyValue, onlyKey)));
    expect({ ...decoded.attributes!.request!.http!.headers }).toEqual({ '': 'v', k: '' });
    // The same in metadata: a filter_metadata entry and a Struct field without a key are keyed ''.
    const struct = lenField(1, lenField(2, lenField(3, 'x'))); // Struct{fields{value: "x"}} (no key)
    const meta = lenField(11, lenField(1, lenField(2, struct))); // filter_metadata{value: struct} (no key)
    const input = toCheckInput(
      ok(readCheckRequest(Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), lenField(1, meta)]))),
    );
    expect(input.filterMetadata).toEqual({ '': { '': 'x' } });
  });

  it('judges no label or extension limit without limits', () => {
    const ext = Array.from({ length: 5 }, (_, i) =>
      lenField(10, Buffer.concat([lenField(1, `k${i}`), lenField(2, 'v')])),
    );
    const decoded = ok(
      readCheckRequest(
        Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), lenField(1, Buffer.concat(ext))]),
      ),
    );
    expect(Object.keys(decoded.attributes!.contextExtensions!)).toHaveLength(5);
  });

  it('keeps metadata nested exactly to the limit, in structs and in lists', () => {
    const nested = (levels: number, viaList: boolean) => {
      let value = lenField(3, 'leaf');
      for (let i = 1; i < levels; i++) {
        value = viaList
          ? lenField(6, lenField(1, value))
          : lenField(5, lenField(1, Buffer.concat([lenField(1, 'k'), lenField(2, value)])));
      }
      const struct = lenField(1, Buffer.concat([lenField(1, 'k'), lenField(2, value)]));
      const meta = lenField(11, lenField(1, Buffer.concat([lenField(1, 'ns'), lenField(2, struct)])));
      return refusal(
        readCheckRequest(Buffer.concat([httpBytes(lenField(2, 'GET'), lenField(4, '/')), lenField(1, meta)])),
      );
    };
    for (const viaList of [false, true]) {
      expect(nested(32, viaList)).toBe('accepted');
      expect(nested(33, viaList)).toMatch(/nested deeper than 32 levels/);
    }
  });
});
