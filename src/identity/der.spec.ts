import { describe, expect, it } from 'vitest';
import {
  children,
  DerError,
  expectTag,
  readBoolean,
  readNamedBits,
  readOid,
  readSmallInt,
  readTime,
  readTlv,
  TAG,
  type Tlv,
} from './der.js';

/** The single TLV in `hex`, read against the whole buffer. */
function one(hex: string): { buf: Buffer; t: Tlv } {
  const buf = Buffer.from(hex.replace(/\s+/g, ''), 'hex');
  return { buf, t: readTlv(buf, 0, buf.length) };
}

function time(tag: number, text: string): number {
  const buf = Buffer.concat([Buffer.from([tag, text.length]), Buffer.from(text, 'latin1')]);
  return readTime(buf, readTlv(buf, 0, buf.length));
}

describe('readTlv: every length is checked against its parent', () => {
  it('short and long form lengths', () => {
    expect(one('0400')).toMatchObject({ t: { tag: 4, pos: 0, start: 2, end: 2 } });
    const long = Buffer.concat([Buffer.from([0x04, 0x82, 0x01, 0x02]), Buffer.alloc(0x102)]);
    expect(readTlv(long, 0, long.length)).toEqual({ tag: 4, pos: 0, start: 4, end: 4 + 0x102 });
    const four = Buffer.concat([Buffer.from([0x04, 0x84, 0, 0, 0, 1]), Buffer.alloc(1)]);
    expect(readTlv(four, 0, four.length)).toEqual({ tag: 4, pos: 0, start: 6, end: 7 });
    // A TLV that ends exactly at its parent's end fits; a TLV at an offset reads from there.
    const two = Buffer.from('0500' + '0101ff', 'hex');
    expect(readTlv(two, 2, 5)).toEqual({ tag: 1, pos: 2, start: 4, end: 5 });
  });

  it('refuses truncation, high tag numbers, indefinite or oversized lengths, and content past the parent', () => {
    const bad = (hex: string, limit?: number) => {
      const buf = Buffer.from(hex, 'hex');
      return () => readTlv(buf, 0, limit ?? buf.length);
    };
    expect(bad('04')).toThrow(/truncated DER$/);
    expect(bad('1f0100')).toThrow(/high-tag-number/);
    expect(bad('3f0100')).toThrow(/high-tag-number/);
    expect(bad('048000')).toThrow(/indefinite or oversized/);
    expect(bad('0485000000000100')).toThrow(/indefinite or oversized/);
    expect(bad('0482 01'.replace(' ', ''))).toThrow(/truncated DER length/);
    expect(bad('040201')).toThrow(/runs past its parent/);
    expect(bad('04020102', 3)).toThrow(/runs past its parent/);
    expect(bad('04020102', 3)).toThrow(DerError);
  });

  it('children splits a constructed value and refuses a child running past it', () => {
    const { buf, t } = one('3006 0101ff 020105');
    expect(children(buf, t).map((c) => c.tag)).toEqual([TAG.BOOLEAN, TAG.INTEGER]);
    expect(children(buf, { ...t, end: t.start })).toEqual([]);
    expect(() => children(buf, { ...t, end: t.end - 1 })).toThrow(/runs past its parent/);
    const int = children(buf, t)[1];
    expect(expectTag(int, TAG.INTEGER, 'x')).toBe(int);
    expect(() => expectTag(int, TAG.BOOLEAN, 'a flag')).toThrow(/expected a flag/);
    expect(() => expectTag(undefined, TAG.BOOLEAN, 'a flag')).toThrow(/expected a flag/);
  });
});

describe('readOid', () => {
  it('decodes the first two arcs and multi-byte arcs', () => {
    expect(readOid(...args('0603550403'))).toBe('2.5.4.3');
    expect(readOid(...args('06082a8648ce3d040302'))).toBe('1.2.840.10045.4.3.2');
    expect(readOid(...args('060127'))).toBe('0.39');
    expect(readOid(...args('06014f'))).toBe('1.39');
    expect(readOid(...args('060150'))).toBe('2.0');
    expect(readOid(...args('0602813f'))).toBe('2.111');
  });

  it('refuses an empty OID, a truncated arc and an arc too large to be exact', () => {
    expect(() => readOid(...args('0600'))).toThrow(/empty OID/);
    expect(() => readOid(...args('06025581'))).toThrow(/truncated OID/);
    // 2^46 is the first arc refused (one more byte could leave the safe integers); 2^46 - 1 still decodes.
    expect(() => readOid(...args('06082a90' + '80'.repeat(5) + '00'))).toThrow(/arc too large/);
    expect(readOid(...args('06082a8f' + 'ff'.repeat(5) + '7f'))).toBe(`1.2.${2 ** 46 - 1}`);
  });
});

function args(hex: string): [Buffer, Tlv] {
  const { buf, t } = one(hex);
  return [buf, t];
}

describe('readBoolean and readSmallInt', () => {
  it('a BOOLEAN is one byte; zero is false, anything else true', () => {
    expect(readBoolean(...args('010100'))).toBe(false);
    expect(readBoolean(...args('0101ff'))).toBe(true);
    expect(readBoolean(...args('010101'))).toBe(true);
    expect(() => readBoolean(...args('0100'))).toThrow(/bad BOOLEAN/);
    expect(() => readBoolean(...args('01020000'))).toThrow(/bad BOOLEAN/);
    expect(() => readBoolean(...args('020100'))).toThrow(/bad BOOLEAN/);
  });

  it('a path length is a non-negative INTEGER of one to four bytes', () => {
    expect(readSmallInt(...args('020100'))).toBe(0);
    expect(readSmallInt(...args('02017f'))).toBe(127);
    expect(readSmallInt(...args('02020100'))).toBe(256);
    expect(readSmallInt(...args('02047fffffff'))).toBe(0x7fffffff);
    for (const hex of ['0200', '020180', '0205 0100000000', '0101 00']) {
      expect(() => readSmallInt(...args(hex.replace(' ', '')))).toThrow(/bad INTEGER/);
    }
  });
});

describe('readTime (RFC 5280 4.1.2.5)', () => {
  it('UTCTime: YY below 50 is 20YY, 50 and above is 19YY', () => {
    expect(time(TAG.UTC_TIME, '491231235959Z')).toBe(Date.UTC(2049, 11, 31, 23, 59, 59));
    expect(time(TAG.UTC_TIME, '500101000000Z')).toBe(Date.UTC(1950, 0, 1, 0, 0, 0));
    expect(time(TAG.UTC_TIME, '260102030405Z')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
  });

  it('GeneralizedTime: four-digit year', () => {
    expect(time(TAG.GENERALIZED_TIME, '20500101000000Z')).toBe(Date.UTC(2050, 0, 1));
    expect(time(TAG.GENERALIZED_TIME, '19991231235958Z')).toBe(Date.UTC(1999, 11, 31, 23, 59, 58));
  });

  it('refuses local times, fractions, missing seconds, the wrong form for the tag, and other tags', () => {
    for (const [tag, text] of [
      [TAG.UTC_TIME, '260102030405'],
      [TAG.UTC_TIME, '2601020304Z'],
      [TAG.UTC_TIME, '260102030405+0100'],
      [TAG.UTC_TIME, 'x260102030405Z'],
      [TAG.UTC_TIME, '260102030405Zx'],
      [TAG.UTC_TIME, '20260102030405Z'],
      [TAG.GENERALIZED_TIME, '260102030405Z'],
      [TAG.GENERALIZED_TIME, '20260102030405.5Z'],
      [TAG.GENERALIZED_TIME, 'x20260102030405Z'],
      [TAG.GENERALIZED_TIME, '20260102030405Zx'],
      [TAG.OCTET_STRING, '260102030405Z'],
    ] as const) {
      expect(() => time(tag, text), `${tag} ${text}`).toThrow(/bad certificate time/);
    }
  });

  it('a time field of any length is refused as a DerError (a huge one must not overflow the call stack)', () => {
    for (const len of [16, 2_000_000]) {
      const body = Buffer.alloc(len, 0x30);
      const buf = Buffer.concat([Buffer.from([TAG.UTC_TIME, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]), body]);
      expect(() => readTime(buf, readTlv(buf, 0, buf.length))).toThrow(DerError);
    }
  });
});

describe('readNamedBits (keyUsage)', () => {
  it('bit i counts from the most significant bit of the first byte', () => {
    expect(readNamedBits(...args('03020780'))).toBe(1 << 0);
    expect(readNamedBits(...args('03020204'))).toBe(1 << 5);
    expect(readNamedBits(...args('03020102'))).toBe(1 << 6);
    expect(readNamedBits(...args('0303070080'))).toBe(1 << 8);
    expect(readNamedBits(...args('030100'))).toBe(0);
    expect(readNamedBits(...args('030200ff'))).toBe(0xff);
  });

  it('reads only its own bytes, never those after it in the buffer', () => {
    const buf = Buffer.from('03020780ffffffff', 'hex');
    expect(readNamedBits(buf, readTlv(buf, 0, 4))).toBe(1 << 0);
  });

  it('keeps only the first 31 bits of a long BIT STRING', () => {
    expect(readNamedBits(...args('030600ffffffffff'))).toBe(0x7fffffff);
  });

  it('refuses an empty BIT STRING, padding above 7 and another tag', () => {
    expect(() => readNamedBits(...args('0300'))).toThrow(/bad BIT STRING$/);
    expect(() => readNamedBits(...args('030208ff'))).toThrow(/bad BIT STRING padding/);
    expect(readNamedBits(...args('030207ff'))).toBe(0xff);
    expect(() => readNamedBits(...args('040200ff'))).toThrow(/bad BIT STRING$/);
  });
});
