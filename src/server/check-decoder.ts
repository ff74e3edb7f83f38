import type {
  MalformedRequest,
  WireAddress,
  WireAttributeContext,
  WireCheckRequest,
  WireHeaderValue,
  WireHttpRequest,
  WirePeer,
  WireSocketAddress,
} from '../authz/wire-types.js';
import { requestMap } from '../authz/wire-types.js';
import { metadata } from './check-metadata.js';
import {
  cur,
  entry,
  LEN,
  length,
  Malformed,
  skip,
  startReading,
  stopReading,
  string,
  sub,
  tag,
  utf8,
  VARINT,
  varint,
  varint32,
  want,
} from './protobuf-cursor.js';

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

class OverLimit extends Error {}

// The limits and counts of the one read in progress (see `cur` in protobuf-cursor.ts for why one object).
const seen = {
  limits: undefined as DecodeLimits | undefined,
  headerCount: 0,
  headerBytes: 0,
  extensionCount: 0,
  sourceLabels: 0,
  destinationLabels: 0,
};

/**
 * Decodes a CheckRequest. Never throws: a malformed message or one over a limit becomes a
 * {@link MalformedRequest}, which the pipeline denies with its reason (a gRPC error would hand the decision to
 * Envoy's failure mode).
 */
export function readCheckRequest(bytes: Uint8Array, decodeLimits?: DecodeLimits): WireCheckRequest | MalformedRequest {
  startReading(bytes);
  seen.limits = decodeLimits;
  seen.headerCount = 0;
  seen.headerBytes = 0;
  seen.extensionCount = 0;
  seen.sourceLabels = 0;
  seen.destinationLabels = 0;
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
    stopReading();
  }
}

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
        if (seen.limits !== undefined && ++seen.extensionCount > seen.limits.maxLabels) {
          throw new OverLimit(`more than ${seen.limits.maxLabels} context extensions`);
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
        const n = source ? ++seen.sourceLabels : ++seen.destinationLabels;
        if (seen.limits !== undefined && n > seen.limits.maxLabels) {
          throw new OverLimit(`more than ${seen.limits.maxLabels} ${source ? 'source' : 'destination'} labels`);
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
        if (seen.limits !== undefined && n > seen.limits.maxPathBytes) {
          throw new OverLimit(`the path is longer than ${seen.limits.maxPathBytes} bytes`);
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
  if (seen.limits === undefined) return;
  seen.headerCount++;
  seen.headerBytes += bytes;
  if (seen.headerCount > seen.limits.maxHeaders) throw new OverLimit(`more than ${seen.limits.maxHeaders} headers`);
  if (seen.headerBytes > seen.limits.maxHeaderBytes)
    throw new OverLimit(`headers exceed ${seen.limits.maxHeaderBytes} bytes`);
}
