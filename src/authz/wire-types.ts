/**
 * The shape of the ext_authz v3 messages as the codec decodes them (protobufjs, camelCase). Only `toCheckInput`
 * reads a {@link WireCheckRequest} and only `buildResponse` writes a {@link WireCheckResponse}; the rest of the
 * product reads the plain `CheckInput`. No protobuf code here: the codec lives in `server/`.
 */

/** google.protobuf.Value as protobufjs decodes it. */
export interface WireValue {
  nullValue?: number;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: WireStruct;
  listValue?: { values?: WireValue[] };
}
export interface WireStruct {
  fields?: Record<string, WireValue>;
}
export interface WireSocketAddress {
  address?: string;
  portValue?: number;
}
export interface WireAddress {
  socketAddress?: WireSocketAddress;
  pipe?: { path?: string };
}
export interface WirePeer {
  address?: WireAddress;
  service?: string;
  labels?: Record<string, string>;
  principal?: string;
  certificate?: string;
}
export interface WireHeaderValue {
  key?: string;
  value?: string;
  rawValue?: Uint8Array;
}
export interface WireHttpRequest {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  path?: string;
  host?: string;
  scheme?: string;
  query?: string;
  fragment?: string;
  size?: number | { toNumber(): number };
  protocol?: string;
  body?: string;
  rawBody?: Uint8Array;
  headerMap?: { headers?: WireHeaderValue[] };
}
export interface WireMetadata {
  filterMetadata?: Record<string, WireStruct>;
}
export interface WireAttributeContext {
  source?: WirePeer;
  destination?: WirePeer;
  request?: { time?: { seconds?: number | { toNumber(): number }; nanos?: number }; http?: WireHttpRequest };
  contextExtensions?: Record<string, string>;
  metadataContext?: WireMetadata;
  tlsSession?: { sni?: string };
  routeMetadataContext?: WireMetadata;
}
export interface WireCheckRequest {
  attributes?: WireAttributeContext;
}

export interface WireHeaderValueOption {
  header: { key: string; value: string };
  append?: { value: boolean };
  appendAction?: number;
}
export interface WireCheckResponse {
  status: { code: number; message?: string };
  deniedResponse?: { status: { code: number }; headers?: WireHeaderValueOption[]; body?: string };
  okResponse?: {
    headers?: WireHeaderValueOption[];
    headersToRemove?: string[];
    responseHeadersToAdd?: WireHeaderValueOption[];
  };
  dynamicMetadata?: WireStruct;
}

/**
 * The prototype of every string map read from a request: empty, frozen, and with no prototype of its own. A key
 * such as `constructor`, `toString` or `__proto__` is then only ever the request's own entry (never an
 * `Object.prototype` member, and `__proto__` is a plain key since no accessor for it is inherited), while V8 keeps
 * the object in fast mode: an object created with a null prototype starts as a hash table, measured 2.7× slower to
 * fill and read with a request's 15 headers.
 */
const NO_MEMBERS: object = Object.freeze(Object.create(null));

/** A new map for request data: no inherited members (see {@link NO_MEMBERS}). */
export function requestMap<V>(): Record<string, V> {
  return Object.create(NO_MEMBERS) as Record<string, V>;
}

/** Whether `map` was made by {@link requestMap} (it then inherits nothing). */
export function isRequestMap(map: object): boolean {
  return Object.getPrototypeOf(map) === NO_MEMBERS;
}

/** A request whose bytes did not decode: it is denied with this reason rather than failing the RPC. */
export interface MalformedRequest {
  readonly malformed: string;
}

/** Plain JSON from a google.protobuf.Struct (for metadata the policy and identity layers read). */
export function structToJson(struct: WireStruct | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = struct?.fields;
  if (!fields) return out;
  for (const key of Object.keys(fields)) out[key] = valueToJson(fields[key]);
  return out;
}

function valueToJson(value: WireValue | undefined): unknown {
  if (!value) return null;
  // Own properties only: a protobufjs-decoded message inherits a default ('' / 0 / false) for EVERY member of the
  // `kind` oneof from its prototype, so `value.stringValue !== undefined` is true even for a number or a null.
  const has = (key: keyof WireValue) => Object.hasOwn(value, key) && value[key] !== undefined && value[key] !== null;
  if (has('structValue')) return structToJson(value.structValue);
  if (has('listValue')) return (value.listValue?.values ?? []).map(valueToJson);
  if (has('stringValue')) return value.stringValue;
  if (has('numberValue')) return value.numberValue;
  if (has('boolValue')) return value.boolValue;
  return null;
}

/** A google.protobuf.Struct from plain JSON (for dynamic_metadata). */
export function jsonToStruct(json: Record<string, unknown>): WireStruct {
  const fields: Record<string, WireValue> = {};
  for (const [key, value] of Object.entries(json)) fields[key] = jsonToValue(value);
  return { fields };
}

function jsonToValue(value: unknown): WireValue {
  if (value === null || value === undefined) return { nullValue: 0 };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(jsonToValue) } };
  if (typeof value === 'object') return { structValue: jsonToStruct(value as Record<string, unknown>) };
  return { stringValue: String(value) };
}
