import { describe, expect, it } from 'vitest';
import { encodeGrpcMessage, frameMessage, GrpcStatus, parseGrpcTimeout, UnaryMessageReader } from './grpc-framing.js';

// Wire rules from grpc/grpc doc/PROTOCOL-HTTP2.md (Length-Prefixed-Message, Timeout, Status-Message).

const body = Buffer.from('hello, check');
const framed = frameMessage(body);

describe('frameMessage', () => {
  it('prefixes flag 0 and the big-endian length', () => {
    expect([...framed.subarray(0, 5)]).toEqual([0, 0, 0, 0, body.length]);
    expect(framed.subarray(5).equals(body)).toBe(true);
  });
});

describe('parseGrpcTimeout', () => {
  it('reads every unit', () => {
    expect(parseGrpcTimeout('2H')).toBe(7_200_000);
    expect(parseGrpcTimeout('3M')).toBe(180_000);
    expect(parseGrpcTimeout('5S')).toBe(5000);
    expect(parseGrpcTimeout('250m')).toBe(250);
    expect(parseGrpcTimeout('1500u')).toBe(1.5);
    expect(parseGrpcTimeout('99999999n')).toBeCloseTo(99.999999);
  });
  it('ignores absent or malformed values (more than 8 digits, no unit, unknown unit, signs)', () => {
    for (const bad of [undefined, '', 'S', '123456789S', '100', '10x', '-1S', '1.5S', ' 1S']) {
      expect(parseGrpcTimeout(bad)).toBeNull();
    }
    expect(parseGrpcTimeout(['1S'])).toBeNull();
  });
});

describe('encodeGrpcMessage', () => {
  it('leaves printable ASCII alone', () => {
    expect(encodeGrpcMessage("unknown service 'x'")).toBe("unknown service 'x'");
  });
  it('percent-encodes %, control characters and the UTF-8 bytes of non-ASCII', () => {
    expect(encodeGrpcMessage('100% ö\n')).toBe('100%25 %C3%B6%0A');
  });
});

describe('UnaryMessageReader', () => {
  const read = (chunks: Buffer[], max = 1024) => {
    const r = new UnaryMessageReader(max);
    for (const c of chunks) {
      const failure = r.push(c);
      if (failure) return failure;
    }
    return r.end();
  };

  it('hands back a view of a chunk that holds exactly one message (no copy)', () => {
    const out = read([framed]);
    expect(Buffer.isBuffer(out) && out.buffer === framed.buffer).toBe(true);
  });

  it('reassembles a prefix split over two chunks and a body split over three', () => {
    const chunks = [
      framed.subarray(0, 2),
      framed.subarray(2, 5),
      framed.subarray(5, 7),
      framed.subarray(7, 9),
      framed.subarray(9),
    ];
    expect(read(chunks)).toEqual(body);
  });

  it('reads one byte at a time', () => {
    expect(read([...framed].map((b) => Buffer.from([b])))).toEqual(body);
  });

  it('reads an empty message', () => {
    expect(read([frameMessage(Buffer.alloc(0))])).toEqual(Buffer.alloc(0));
  });

  it('refuses a second message: in the same chunk, or in a later one', () => {
    expect(read([Buffer.concat([framed, framed])])).toMatchObject({ code: GrpcStatus.UNIMPLEMENTED });
    expect(read([framed, framed])).toMatchObject({ code: GrpcStatus.UNIMPLEMENTED });
    expect(read([framed, Buffer.from([0])])).toMatchObject({ code: GrpcStatus.UNIMPLEMENTED });
  });

  it('refuses a compressed message (flag 1) and an unknown flag with INTERNAL', () => {
    const compressed = Buffer.from(framed);
    compressed[0] = 1;
    expect(read([compressed])).toMatchObject({
      code: GrpcStatus.INTERNAL,
      message: expect.stringContaining('identity'),
    });
    const odd = Buffer.from(framed);
    odd[0] = 2;
    expect(read([odd])).toMatchObject({ code: GrpcStatus.INTERNAL });
  });

  it('refuses a message announced larger than the maximum from its prefix alone; the maximum itself passes', () => {
    const prefix = Buffer.from([0, 0, 0, 4, 1]);
    expect(read([prefix], 1024)).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
    expect(read([frameMessage(Buffer.alloc(1024))], 1024)).toHaveLength(1024);
    // Split prefix: judged once its fifth byte arrives.
    expect(read([prefix.subarray(0, 3), prefix.subarray(3)], 1024)).toMatchObject({
      code: GrpcStatus.RESOURCE_EXHAUSTED,
    });
  });

  it('fails a call with no message, or one shorter than announced', () => {
    expect(read([])).toMatchObject({
      code: GrpcStatus.INTERNAL,
      message: expect.stringContaining('no request message'),
    });
    expect(read([framed.subarray(0, 8)])).toMatchObject({ code: GrpcStatus.INTERNAL });
    expect(read([framed.subarray(0, 3)])).toMatchObject({ code: GrpcStatus.INTERNAL });
  });

  it('reports a failure once and ignores what follows', () => {
    const r = new UnaryMessageReader(4);
    expect(r.push(frameMessage(Buffer.alloc(5)))).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
    expect(r.push(framed)).toBeNull();
    expect(r.end()).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
  });
});
