import { isUtf8 } from 'node:buffer';
import type {
  MalformedRequest,
  WireAddress,
  WireAttributeContext,
  WireCheckRequest,
  WireHeaderValue,
  WireHttpRequest,
  WireMetadata,
  WirePeer,
  WireSocketAddress,
  WireStruct,
  WireValue,
} from '../authz/wire-types.js';
import { requestMap } from '../authz/wire-types.js';

/**
 * The CheckRequest reader of the Check path: one pass over the bytes that builds only what `toCheckInput` reads
 * and judges the size limits as it goes. It replaces a limits pre-walk followed by protobufjs's full decode (which
 * built every field, validated every string in JS and walked the bytes a second time): the whole message is read
 * once, and an over-limit request stops the walk at the first entry past a limit, so a hostile message is never
 * materialized beyond the limits.
 *
 * Field numbers are those of protos/envoy/service/auth/v3/{external_auth,attribute_context}.proto,
 * protos/envoy/config/core/v3/{address,base}.proto and google/protobuf/{struct,timestamp}.proto.
 * Protobuf rules kept (https://protobuf.dev/programming-guides/encoding/): a repeated occurrence of a message
 * field merges into the first, a scalar's last occurrence wins, a oneof keeps its last member, unknown fields are
 * skipped, strings must be UTF-8 (proto3), maps keep the last value of a key. Stricter than protobufjs on purpose:
 * a known field with the wrong wire type, a group (proto3 has none), a field number 0, or a varint over 10 bytes is
 * a malformed request (denied), where protobufjs would read the bytes as whatever the field expects.
 * Not built (never read by the core): query, fragment, size, body, raw_body (the raw path carries query and
 * fragment), route and typed metadata. Maps are `requestMap()`s, so a key such as `__proto__` or `constructor`
 * is only ever the request's own entry.
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

if (typeof Buffer.prototype.utf8Slice !== 'function') {
  throw new Error('this Node.js has no Buffer#utf8Slice: the CheckRequest reader cannot run');
}

const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;
/** google.protobuf.Struct nesting kept in metadata; Envoy's own metadata is a few levels deep. */
const MAX_STRUCT_DEPTH = 32;

class Malformed extends Error {}

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
class OverLimit extends Error {}

// The cursor and counters of the one decode in progress. Decoding is synchronous, so one set is enough and the walk
// allocates nothing for itself; they are fields of one constant object rather than module `let`s, which V8 reads
// with a hole check on every access.
const cur = {
  buf: Buffer.alloc(0) as Buffer,
  pos: 0,
  limits: undefined as DecodeLimits | undefined,
  headerCount: 0,
  headerBytes: 0,
  extensionCount: 0,
  sourceLabels: 0,
  destinationLabels: 0,
  /** The last map entry read by {@link entry}, and the bytes of its key and value. */
  entryKey: '',
  entryValue: '',
  entryBytes: 0,
};

/**
 * Decodes a CheckRequest. Never throws: a malformed message or one over a limit becomes a
 * {@link MalformedRequest}, which the pipeline denies with its reason (a gRPC error would hand the decision to
 * Envoy's failure mode).
 */
export function readCheckRequest(bytes: Uint8Array, decodeLimits?: DecodeLimits): WireCheckRequest | MalformedRequest {
  cur.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  cur.pos = 0;
  cur.limits = decodeLimits;
  cur.headerCount = 0;
  cur.headerBytes = 0;
  cur.extensionCount = 0;
  cur.sourceLabels = 0;
  cur.destinationLabels = 0;
  try {
    const request: WireCheckRequest = {};
    const end = cur.buf.length;
    while (cur.pos < end) {
      const t = tag(end);
      if (t >>> 3 === 1) request.attributes = attributes(request.attributes ?? {}, sub(t, end));
      else skip(t, end);
    }
    return request;
  } catch (err) {
    if (err instanceof OverLimit) return { malformed: `over a limit, refused while decoding: ${err.message}` };
    if (err instanceof Malformed) return { malformed: `invalid CheckRequest at byte ${cur.pos}: ${err.message}` };
    // A RangeError from a runaway input (never expected): still a deny with a reason, never a crash.
    return { malformed: `invalid CheckRequest: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    cur.buf = EMPTY_BUFFER;
  }
}

const EMPTY_BUFFER = Buffer.alloc(0);

function attributes(a: WireAttributeContext, end: number): WireAttributeContext {
  while (cur.pos < end) {
    const t = tag(end);
    switch (t >>> 3) {
      case 1:
        a.source = peer(a.source ?? {}, sub(t, end), true);
        break;
      case 2:
        a.destination = peer(a.destination ?? {}, sub(t, end), false);
        break;
      case 4: {
        const e = sub(t, end);
        const r = a.request ?? {};
        a.request = r;
        while (cur.pos < e) {
          const f = tag(e);
          if (f >>> 3 === 1) r.time = timestamp(r.time ?? {}, sub(f, e));
          else if (f >>> 3 === 2) r.http = http(r.http ?? {}, sub(f, e));
          else skip(f, e);
        }
        break;
      }
      case 10:
        entry(sub(t, end));
        if (cur.limits !== undefined && ++cur.extensionCount > cur.limits.maxLabels) {
          throw new OverLimit(`more than ${cur.limits.maxLabels} context extensions`);
        }
        a.contextExtensions ??= requestMap<string>();
        a.contextExtensions[cur.entryKey] = cur.entryValue;
        break;
      case 11:
        a.metadataContext = metadata(a.metadataContext ?? {}, sub(t, end));
        break;
      case 12: {
        const e = sub(t, end);
        const tls = a.tlsSession ?? {};
        a.tlsSession = tls;
        while (cur.pos < e) {
          const f = tag(e);
          if (f >>> 3 === 1) tls.sni = string(f, e);
          else skip(f, e);
        }
        break;
      }
      default:
        skip(t, end);
    }
  }
  return a;
}

function peer(p: WirePeer, end: number, source: boolean): WirePeer {
  while (cur.pos < end) {
    const t = tag(end);
    switch (t >>> 3) {
      case 1:
        p.address = address(p.address ?? {}, sub(t, end));
        break;
      case 2:
        p.service = string(t, end);
        break;
      case 3: {
        entry(sub(t, end));
        const n = source ? ++cur.sourceLabels : ++cur.destinationLabels;
        if (cur.limits !== undefined && n > cur.limits.maxLabels) {
          throw new OverLimit(`more than ${cur.limits.maxLabels} ${source ? 'source' : 'destination'} labels`);
        }
        p.labels ??= requestMap<string>();
        p.labels[cur.entryKey] = cur.entryValue;
        break;
      }
      case 4:
        p.principal = string(t, end);
        break;
      case 5:
        p.certificate = string(t, end);
        break;
      default:
        skip(t, end);
    }
  }
  return p;
}

/** Address is a oneof (socket_address, pipe, envoy_internal_address): another member after it clears it. */
function address(a: WireAddress, end: number): WireAddress {
  while (cur.pos < end) {
    const t = tag(end);
    if (t >>> 3 === 1) {
      a.socketAddress = socketAddress(a.socketAddress ?? {}, sub(t, end));
    } else {
      if (t >>> 3 === 2 || t >>> 3 === 3) delete a.socketAddress;
      skip(t, end);
    }
  }
  return a;
}

/** port_specifier is a oneof (port_value, named_port): a named port clears the number. */
function socketAddress(s: WireSocketAddress, end: number): WireSocketAddress {
  while (cur.pos < end) {
    const t = tag(end);
    const field = t >>> 3;
    if (field === 2) s.address = string(t, end);
    else if (field === 3) {
      want(t, VARINT);
      s.portValue = varint32(end) >>> 0;
    } else {
      if (field === 4) delete s.portValue;
      skip(t, end);
    }
  }
  return s;
}

type WireTimestamp = NonNullable<NonNullable<WireAttributeContext['request']>['time']>;

function timestamp(ts: WireTimestamp, end: number): WireTimestamp {
  while (cur.pos < end) {
    const t = tag(end);
    if (t >>> 3 === 1) {
      want(t, VARINT);
      const v = varint(end);
      // int64 in two's complement: a negative value arrives as 2^64 - |v|.
      ts.seconds = v >= 2 ** 63 ? v - 2 ** 64 : v;
    } else if (t >>> 3 === 2) {
      want(t, VARINT);
      ts.nanos = varint32(end) | 0;
    } else skip(t, end);
  }
  return ts;
}

function http(h: WireHttpRequest, end: number): WireHttpRequest {
  while (cur.pos < end) {
    const t = tag(end);
    switch (t >>> 3) {
      case 1:
        h.id = string(t, end);
        break;
      case 2:
        h.method = string(t, end);
        break;
      case 3: {
        entry(sub(t, end));
        countHeader(cur.entryBytes);
        h.headers ??= requestMap<string>();
        h.headers[cur.entryKey] = cur.entryValue;
        break;
      }
      case 4: {
        want(t, LEN);
        const n = length(end);
        if (cur.limits !== undefined && n > cur.limits.maxPathBytes) {
          throw new OverLimit(`the path is longer than ${cur.limits.maxPathBytes} bytes`);
        }
        h.path = utf8(n);
        break;
      }
      case 5:
        h.host = string(t, end);
        break;
      case 6:
        h.scheme = string(t, end);
        break;
      case 10:
        h.protocol = string(t, end);
        break;
      case 13: {
        const e = sub(t, end);
        const map = h.headerMap ?? { headers: [] };
        h.headerMap = map;
        while (cur.pos < e) {
          const f = tag(e);
          if (f >>> 3 === 1) map.headers!.push(headerValue(sub(f, e)));
          else skip(f, e);
        }
        break;
      }
      default:
        skip(t, end);
    }
  }
  return h;
}

function headerValue(end: number): WireHeaderValue {
  const v: WireHeaderValue = {};
  let text = 0;
  while (cur.pos < end) {
    const t = tag(end);
    const field = t >>> 3;
    if (field === 1 || field === 2) {
      want(t, LEN);
      const n = length(end);
      text += n;
      if (field === 1) v.key = utf8(n);
      else v.value = utf8(n);
    } else if (field === 3) {
      want(t, LEN);
      const n = length(end);
      text += n;
      v.rawValue = cur.buf.subarray(cur.pos, cur.pos + n);
      cur.pos += n;
    } else skip(t, end);
  }
  countHeader(text);
  return v;
}

function countHeader(bytes: number): void {
  if (cur.limits === undefined) return;
  cur.headerCount++;
  cur.headerBytes += bytes;
  if (cur.headerCount > cur.limits.maxHeaders) throw new OverLimit(`more than ${cur.limits.maxHeaders} headers`);
  if (cur.headerBytes > cur.limits.maxHeaderBytes)
    throw new OverLimit(`headers exceed ${cur.limits.maxHeaderBytes} bytes`);
}

function metadata(m: WireMetadata, end: number): WireMetadata {
  while (cur.pos < end) {
    const t = tag(end);
    if (t >>> 3 === 1) {
      const e = sub(t, end);
      let key = '';
      let value: WireStruct = { fields: requestMap<WireValue>() };
      while (cur.pos < e) {
        const f = tag(e);
        if (f >>> 3 === 1) key = string(f, e);
        else if (f >>> 3 === 2) value = struct(sub(f, e), 1);
        else skip(f, e);
      }
      m.filterMetadata ??= requestMap<WireStruct>();
      m.filterMetadata[key] = value;
    } else skip(t, end);
  }
  return m;
}

function struct(end: number, depth: number): WireStruct {
  if (depth > MAX_STRUCT_DEPTH) throw new Malformed(`metadata nested deeper than ${MAX_STRUCT_DEPTH} levels`);
  const fields = requestMap<WireValue>();
  while (cur.pos < end) {
    const t = tag(end);
    if (t >>> 3 !== 1) {
      skip(t, end);
      continue;
    }
    const e = sub(t, end);
    let key = '';
    let value: WireValue = { nullValue: 0 };
    while (cur.pos < e) {
      const f = tag(e);
      if (f >>> 3 === 1) key = string(f, e);
      else if (f >>> 3 === 2) value = structValue(sub(f, e), depth);
      else skip(f, e);
    }
    fields[key] = value;
  }
  return { fields };
}

/** google.protobuf.Value: a oneof, so the last member present is the value. */
function structValue(end: number, depth: number): WireValue {
  let value: WireValue = { nullValue: 0 };
  while (cur.pos < end) {
    const t = tag(end);
    switch (t >>> 3) {
      case 1:
        want(t, VARINT);
        value = { nullValue: varint32(end) };
        break;
      case 2:
        want(t, FIXED64);
        if (end - cur.pos < 8) throw new Malformed('truncated double');
        value = { numberValue: cur.buf.readDoubleLE(cur.pos) };
        cur.pos += 8;
        break;
      case 3:
        value = { stringValue: string(t, end) };
        break;
      case 4:
        want(t, VARINT);
        value = { boolValue: varint(end) !== 0 };
        break;
      case 5:
        value = { structValue: struct(sub(t, end), depth + 1) };
        break;
      case 6: {
        const e = sub(t, end);
        if (depth + 1 > MAX_STRUCT_DEPTH) throw new Malformed(`metadata nested deeper than ${MAX_STRUCT_DEPTH} levels`);
        const values: WireValue[] = [];
        while (cur.pos < e) {
          const f = tag(e);
          if (f >>> 3 === 1) values.push(structValue(sub(f, e), depth + 1));
          else skip(f, e);
        }
        value = { listValue: { values } };
        break;
      }
      default:
        skip(t, end);
    }
  }
  return value;
}

/** A map<string, string> entry ending at `end`: sets {@link cur.entryKey} and {@link cur.entryValue} (absent: ''). */
function entry(end: number): void {
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

// --- the wire format -----------------------------------------------------------------------------------------

function tag(end: number): number {
  const t = varint(end);
  if (t > 0xffffffff) throw new Malformed('a field tag over 32 bits');
  if (t >>> 3 === 0) throw new Malformed('field number 0');
  return t;
}

function want(t: number, wireType: number): void {
  if ((t & 7) !== wireType) throw new Malformed(`field ${t >>> 3} has wire type ${t & 7}, expected ${wireType}`);
}

/** The end of the embedded message field `t` whose length comes next; the cursor moves to its first byte. */
function sub(t: number, end: number): number {
  want(t, LEN);
  const n = length(end);
  return cur.pos + n;
}

function length(end: number): number {
  const n = varint(end);
  if (n > end - cur.pos) throw new Malformed('a length runs past the end of its message');
  return n;
}

function string(t: number, end: number): string {
  want(t, LEN);
  return utf8(length(end));
}

/** The next `n` bytes as a string; proto3 strings must be UTF-8, so invalid bytes make the message malformed. */
function utf8(n: number): string {
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

function skip(t: number, end: number): void {
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
function varint(end: number): number {
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
function varint32(end: number): number {
  let result = 0;
  for (let i = 0; i < 10; i++) {
    if (cur.pos >= end) throw new Malformed('truncated varint');
    const b = cur.buf[cur.pos++]!;
    if (i < 5) result |= (b & 0x7f) << (7 * i);
    if (b < 0x80) return result;
  }
  throw new Malformed('a varint longer than 10 bytes');
}
