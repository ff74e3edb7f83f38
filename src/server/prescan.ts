/**
 * Limits enforced on a CheckRequest's bytes, before protobufjs builds any object from them. A 0.6 MB request of
 * tens of thousands of headers or labels costs tens of milliseconds to decode into objects, on the one thread that
 * answers every other caller; counting them on the wire costs a walk over the varints. So the header count, the
 * header bytes, the path bytes and the label counts are judged here, while decoding, and an over-limit request is
 * denied without ever being materialized. Everything counted here is bytes on the wire (UTF-8), never UTF-16 units.
 *
 * Field numbers are those of protos/envoy/service/auth/v3/{external_auth,attribute_context}.proto and
 * protos/envoy/config/core/v3/base.proto. A structurally broken message is not judged here (null): protobufjs then
 * reports it as malformed, which is a deny too.
 */

export interface DecodeLimits {
  readonly maxPathBytes: number;
  /** Sum of name and value bytes over `headers` and `header_map` together. */
  readonly maxHeaderBytes: number;
  /** Entries of `headers` and `header_map` together. */
  readonly maxHeaders: number;
  /** Entries of each of `source.labels`, `destination.labels`, `context_extensions`. */
  readonly maxLabels: number;
}

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

/** Thrown inside the walk on a structural problem; never escapes {@link prescanCheckRequest}. */
class Unparsable extends Error {}
/** Thrown inside the walk when a limit is exceeded; carries the reason. */
class OverLimit extends Error {}

/** Kept across the whole message: protobuf merges repeated occurrences of a message field, so counts must too. */
interface Counts {
  headers: number;
  headerBytes: number;
  extensions: number;
  sourceLabels: number;
  destinationLabels: number;
}

/** A cursor over one length-delimited range of the message. */
class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  varint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Unparsable();
      const b = this.buf[this.pos++]!;
      // Past 2^53 the value is only skipped or compared against small limits: precision does not matter.
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
    throw new Unparsable();
  }

  /** Reads a field tag; returns [fieldNumber, wireType]. */
  tag(): [number, number] {
    const t = this.varint();
    return [Math.floor(t / 8), t % 8];
  }

  /** Skips a field's value; returns the length of a LEN field (else -1). */
  skip(wireType: number): number {
    if (wireType === VARINT) this.varint();
    else if (wireType === FIXED64) this.advance(8);
    else if (wireType === FIXED32) this.advance(4);
    else if (wireType === LEN) {
      const n = this.varint();
      this.advance(n);
      return n;
    } else throw new Unparsable();
    return -1;
  }

  /** A reader over the next LEN field's payload (and moves past it). */
  sub(): Reader {
    const n = this.varint();
    const start = this.pos;
    this.advance(n);
    return new Reader(this.buf, start, start + n);
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw new Unparsable();
    this.pos += n;
  }
}

/** Bytes of the string/bytes fields `fields` of the message in `r` (a map entry or a HeaderValue). */
function stringBytes(r: Reader, fields: readonly number[]): number {
  let bytes = 0;
  while (r.pos < r.end) {
    const [field, wt] = r.tag();
    const n = r.skip(wt);
    if (wt === LEN && fields.includes(field)) bytes += n;
  }
  return bytes;
}

function countHeader(counts: Counts, bytes: number, limits: DecodeLimits): void {
  counts.headers++;
  counts.headerBytes += bytes;
  if (counts.headers > limits.maxHeaders) throw new OverLimit(`more than ${limits.maxHeaders} headers`);
  if (counts.headerBytes > limits.maxHeaderBytes) {
    throw new OverLimit(`headers exceed ${limits.maxHeaderBytes} bytes`);
  }
}

function walkHttp(r: Reader, counts: Counts, limits: DecodeLimits): void {
  while (r.pos < r.end) {
    const [field, wt] = r.tag();
    if (field === 3 && wt === LEN) countHeader(counts, stringBytes(r.sub(), [1, 2]), limits);
    else if (field === 13 && wt === LEN) {
      const map = r.sub();
      while (map.pos < map.end) {
        const [f, w] = map.tag();
        if (f === 1 && w === LEN) countHeader(counts, stringBytes(map.sub(), [1, 2, 3]), limits);
        else map.skip(w);
      }
    } else if (field === 4 && wt === LEN) {
      const n = r.skip(wt);
      if (n > limits.maxPathBytes) throw new OverLimit(`the path is longer than ${limits.maxPathBytes} bytes`);
    } else r.skip(wt);
  }
}

function walkRequest(r: Reader, counts: Counts, limits: DecodeLimits): void {
  while (r.pos < r.end) {
    const [field, wt] = r.tag();
    if (field === 2 && wt === LEN) walkHttp(r.sub(), counts, limits);
    else r.skip(wt);
  }
}

/** Counts a Peer's `labels` entries (field 3), throwing past `maxLabels`. */
function walkPeer(r: Reader, counts: Counts, limits: DecodeLimits, which: 'source' | 'destination'): void {
  while (r.pos < r.end) {
    const [field, wt] = r.tag();
    r.skip(wt);
    if (field !== 3 || wt !== LEN) continue;
    const n = which === 'source' ? ++counts.sourceLabels : ++counts.destinationLabels;
    if (n > limits.maxLabels) throw new OverLimit(`more than ${limits.maxLabels} ${which} labels`);
  }
}

function walkAttributes(r: Reader, counts: Counts, limits: DecodeLimits): void {
  while (r.pos < r.end) {
    const [field, wt] = r.tag();
    if (wt !== LEN) r.skip(wt);
    else if (field === 1) walkPeer(r.sub(), counts, limits, 'source');
    else if (field === 2) walkPeer(r.sub(), counts, limits, 'destination');
    else if (field === 4) walkRequest(r.sub(), counts, limits);
    else {
      r.skip(wt);
      if (field === 10 && ++counts.extensions > limits.maxLabels) {
        throw new OverLimit(`more than ${limits.maxLabels} context extensions`);
      }
    }
  }
}

/**
 * Returns why the serialized CheckRequest exceeds a limit, or null when it does not (or is not well-formed enough
 * to judge: the full decode then reports it). Never throws.
 */
export function prescanCheckRequest(bytes: Uint8Array, limits: DecodeLimits): string | null {
  try {
    const r = new Reader(bytes, 0, bytes.length);
    const counts: Counts = { headers: 0, headerBytes: 0, extensions: 0, sourceLabels: 0, destinationLabels: 0 };
    while (r.pos < r.end) {
      const [field, wt] = r.tag();
      if (field === 1 && wt === LEN) walkAttributes(r.sub(), counts, limits);
      else r.skip(wt);
    }
    return null;
  } catch (err) {
    return err instanceof OverLimit ? err.message : null;
  }
}
