import { isUtf8 } from 'node:buffer';

/**
 * The protobuf wire format (https://protobuf.dev/programming-guides/encoding/) under the Check path's CheckRequest
 * reader (check-decoder.ts): one cursor over one message's bytes, and the reads every message of it is made of
 * (tags, lengths, varints, UTF-8 strings, map entries, skipped fields). Every read is bounded by the end of the
 * message it is in, so a length or a varint can never run into the bytes of the message around it; anything that
 * is not protobuf throws {@link Malformed}.
 */

/**
 * `Buffer#utf8Slice`: what `toString('utf8', start, end)` calls after checking its arguments and looking up the
 * encoding, which cost more than the decode itself for the short strings of a request. Present in every Node
 * this project supports (20, 22, 24); protobufjs reads strings the same way.
 */
declare module 'node:buffer' {
  interface Buffer {
    utf8Slice(start: number, end: number): string;
  }
}

if (typeof Buffer.prototype.utf8Slice !== 'function') {
  throw new Error('this Node.js has no Buffer#utf8Slice: the CheckRequest reader cannot run');
}

export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const FIXED32 = 5;

/** Bytes that are not a protobuf message (the reader turns it into a deny with the byte position). */
export class Malformed extends Error {}

const EMPTY_BUFFER = Buffer.alloc(0);

// The cursor of the one read in progress. Reading is synchronous, so one cursor is enough and the walk allocates
// nothing for itself; its fields live on one constant object rather than in module `let`s, which V8 reads with a
// hole check on every access.
export const cur = {
  buf: EMPTY_BUFFER as Buffer,
  pos: 0,
  /** The last map entry read by {@link entry}, and the bytes of its key and value. */
  entryKey: '',
  entryValue: '',
  entryBytes: 0,
};

/** Points the cursor at the start of `bytes`. */
export function startReading(bytes: Uint8Array): void {
  cur.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  cur.pos = 0;
}

/** Lets go of the last message's bytes. */
export function stopReading(): void {
  cur.buf = EMPTY_BUFFER;
}

/** A map<string, string> entry ending at `end`: sets {@link cur.entryKey} and {@link cur.entryValue} (absent: ''). */
export function entry(end: number): void {
  let key = '';
  let value = '';
  let bytes = 0;
  while (cur.pos < end) {
    const t = tag(end);
    const field = t >>> 3;
    if (field === 1 || field === 2) {
      want(t, LEN);
      const n = length(end);
      bytes += n;
      if (field === 1) key = utf8(n);
      else value = utf8(n);
    } else skip(t, end);
  }
  cur.entryKey = key;
  cur.entryValue = value;
  cur.entryBytes = bytes;
}

export function tag(end: number): number {
  const t = varint(end);
  if (t > 0xffffffff) throw new Malformed('a field tag over 32 bits');
  if (t >>> 3 === 0) throw new Malformed('field number 0');
  return t;
}

export function want(t: number, wireType: number): void {
  if ((t & 7) !== wireType) throw new Malformed(`field ${t >>> 3} has wire type ${t & 7}, expected ${wireType}`);
}

/** The end of the embedded message field `t` whose length comes next; the cursor moves to its first byte. */
export function sub(t: number, end: number): number {
  want(t, LEN);
  const n = length(end);
  return cur.pos + n;
}

export function length(end: number): number {
  const n = varint(end);
  if (n > end - cur.pos) throw new Malformed('a length runs past the end of its message');
  return n;
}

export function string(t: number, end: number): string {
  want(t, LEN);
  return utf8(length(end));
}

/** The next `n` bytes as a string; proto3 strings must be UTF-8, so invalid bytes make the message malformed. */
export function utf8(n: number): string {
  if (n === 0) return '';
  const start = cur.pos;
  cur.pos += n;
  // Most strings of a request are short ASCII (header names, methods, ports): built here, they cost no call into
  // C++, which for strings this short costs more than the decode.
  if (n <= SHORT_STRING) {
    let s = '';
    for (let i = start; i < cur.pos; i++) {
      const c = cur.buf[i]!;
      if (c >= 0x80) return utf8Slow(start, cur.pos);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8Slow(start, cur.pos);
}

/** Strings up to this many bytes are built in JavaScript when ASCII. */
const SHORT_STRING = 16;

function utf8Slow(start: number, end: number): string {
  const s = cur.buf.utf8Slice(start, end);
  // Invalid bytes decode to U+FFFD; only then is the (rarer) full validation worth its cost.
  if (s.includes('\uFFFD') && !isUtf8(cur.buf.subarray(start, end))) throw new Malformed('a string is not UTF-8');
  return s;
}

export function skip(t: number, end: number): void {
  switch (t & 7) {
    case VARINT:
      varint(end);
      return;
    case FIXED64:
      advance(8, end);
      return;
    case LEN: {
      // Not `cur.pos += length(end)`: that would read `cur.pos` before length() moves it past the length varint.
      const n = length(end);
      cur.pos += n;
      return;
    }
    case FIXED32:
      advance(4, end);
      return;
    default:
      throw new Malformed(`wire type ${t & 7} (groups and reserved types are not proto3)`);
  }
}

function advance(n: number, end: number): void {
  if (n > end - cur.pos) throw new Malformed('a fixed-size field runs past the end of its message');
  cur.pos += n;
}

/** A varint up to 64 bits as a number (exact to 2^53; beyond, only compared or skipped). */
export function varint(end: number): number {
  if (cur.pos >= end) throw new Malformed('truncated varint');
  let b = cur.buf[cur.pos++]!;
  if (b < 0x80) return b;
  let result = b & 0x7f;
  let mul = 128;
  for (let i = 1; i < 10; i++) {
    if (cur.pos >= end) throw new Malformed('truncated varint');
    b = cur.buf[cur.pos++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) return result;
    mul *= 128;
  }
  throw new Malformed('a varint longer than 10 bytes');
}

/** A varint's low 32 bits (uint32/int32/enum fields; a negative int32 arrives sign-extended to 10 bytes). */
export function varint32(end: number): number {
  let result = 0;
  for (let i = 0; i < 10; i++) {
    if (cur.pos >= end) throw new Malformed('truncated varint');
    const b = cur.buf[cur.pos++]!;
    if (i < 5) result |= (b & 0x7f) << (7 * i);
    if (b < 0x80) return result;
  }
  throw new Malformed('a varint longer than 10 bytes');
}
