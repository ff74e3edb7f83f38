import type { WireMetadata, WireStruct, WireValue } from '../authz/wire-types.js';
import { requestMap } from '../authz/wire-types.js';
import { cur, FIXED64, Malformed, skip, string, sub, tag, VARINT, varint, varint32, want } from './protobuf-cursor.js';

/**
 * `metadata_context` of a CheckRequest (envoy.config.core.v3.Metadata): `filter_metadata`, a map of
 * google.protobuf.Struct, read for the policy's `experimental.envoy.filters.*` conditions and Envoy-verified JWT
 * claims. Typed metadata is skipped. Struct nesting is bounded, so a message of a few bytes per level cannot
 * recurse without end.
 */

/** google.protobuf.Struct nesting kept in metadata; Envoy's own metadata is a few levels deep. */
const MAX_STRUCT_DEPTH = 32;

/** Reads a Metadata message ending at `end` into `m` (a repeated occurrence merges into the first). */
export function metadata(m: WireMetadata, end: number): WireMetadata {
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
