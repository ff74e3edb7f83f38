/**
 * A test-side DER writer and reader, independent of src/identity/der.ts, for suites that take a generated
 * certificate apart and re-assemble it with one part changed.
 */

/** DER length octets (definite form, short or long). */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV: the tag, the length of the joined contents, the contents. */
export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

/** The encoded children of the TLV that starts at offset 0 (a SEQUENCE's elements, each with its own header). */
export function children(der: Uint8Array): Buffer[] {
  const buf = Buffer.from(der);
  const header = (at: number) => {
    const first = buf[at + 1]!;
    if (!(first & 0x80)) return { start: at + 2, length: first };
    let length = 0;
    for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + buf[at + 2 + i]!;
    return { start: at + 2 + (first & 0x7f), length };
  };
  const out: Buffer[] = [];
  const top = header(0);
  for (let pos = top.start; pos < top.start + top.length; ) {
    const h = header(pos);
    out.push(buf.subarray(pos, h.start + h.length));
    pos = h.start + h.length;
  }
  return out;
}
