/**
 * A minimal, bounds-checked DER reader for the few X.509 fields the SVID rules need (validity, extensions and
 * their criticality, basicConstraints, keyUsage, extendedKeyUsage, URI SANs). node:crypto parses the certificate
 * first (so the outer structure is known-good DER by OpenSSL's standard); this reader still checks every length
 * against its parent and throws {@link DerError} on anything unexpected rather than guessing.
 *
 * Why not @peculiar/x509 here: it needs a global `reflect-metadata` polyfill (tsyringe), which a pure library must
 * not install into its host process.
 */

export class DerError extends Error {
  override readonly name = 'DerError';
}

export interface Tlv {
  readonly tag: number;
  /** Where the tag byte is (the TLV's whole encoding is `pos..end`). */
  readonly pos: number;
  /** Content start and end (exclusive) within the buffer. */
  readonly start: number;
  readonly end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
} as const;

/** Reads the TLV at `pos`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new DerError('truncated DER');
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high-tag-number form is not used in certificates');
  let len = buf[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError('indefinite or oversized DER length');
    if (start + n > limit) throw new DerError('truncated DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new DerError('DER content runs past its parent');
  return { tag, pos, start, end };
}

/** The children of a constructed TLV. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.start;
  while (pos < parent.end) {
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t === undefined || t.tag !== tag) throw new DerError(`expected ${what}`);
  return t;
}

export function readOid(buf: Uint8Array, t: Tlv): string {
  if (t.end <= t.start) throw new DerError('empty OID');
  const parts: number[] = [];
  let value = 0;
  for (let i = t.start; i < t.end; i++) {
    const b = buf[i]!;
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OID arc too large');
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else parts.push(value);
      value = 0;
    } else if (i === t.end - 1) throw new DerError('truncated OID');
  }
  return parts.join('.');
}

export function readBoolean(buf: Uint8Array, t: Tlv): boolean {
  if (t.tag !== TAG.BOOLEAN || t.end - t.start !== 1) throw new DerError('bad BOOLEAN');
  return buf[t.start] !== 0;
}

/** A small non-negative INTEGER (path lengths). */
export function readSmallInt(buf: Uint8Array, t: Tlv): number {
  const len = t.end - t.start;
  if (t.tag !== TAG.INTEGER || len < 1 || len > 4 || (buf[t.start]! & 0x80) !== 0) {
    throw new DerError('bad INTEGER');
  }
  let v = 0;
  for (let i = t.start; i < t.end; i++) v = v * 256 + buf[i]!;
  return v;
}

/** UTCTime or GeneralizedTime (the forms RFC 5280 allows: Zulu, seconds, no fractions) → ms since epoch. */
export function readTime(buf: Uint8Array, t: Tlv): number {
  // The longest valid form is 15 characters. Checked before decoding: spreading a huge field into fromCharCode
  // throws a RangeError (not a DerError), which would escape as an internal error instead of a refusal.
  if (t.end - t.start > 15) throw new DerError('bad certificate time');
  const s = String.fromCharCode(...buf.subarray(t.start, t.end));
  const utc = t.tag === TAG.UTC_TIME ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s) : null;
  const gen = t.tag === TAG.GENERALIZED_TIME ? /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s) : null;
  const m = utc ?? gen;
  if (m === null) throw new DerError('bad certificate time');
  // RFC 5280 4.1.2.5.1: a two-digit year YY ≥ 50 is 19YY, else 20YY.
  const year = utc ? (Number(m[1]) < 50 ? 2000 : 1900) + Number(m[1]) : Number(m[1]);
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** A named-bit BIT STRING (keyUsage) → flags, bit i (counting from the first, most significant bit) = 1 << i. */
export function readNamedBits(buf: Uint8Array, t: Tlv): number {
  if (t.tag !== TAG.BIT_STRING || t.end - t.start < 1) throw new DerError('bad BIT STRING');
  const unused = buf[t.start]!;
  if (unused > 7) throw new DerError('bad BIT STRING padding');
  let flags = 0;
  let bit = 0;
  for (let i = t.start + 1; i < t.end && bit < 31; i++) {
    const byte = buf[i]!;
    for (let j = 7; j >= 0 && bit < 31; j--, bit++) if (byte & (1 << j)) flags |= 1 << bit;
  }
  return flags;
}
