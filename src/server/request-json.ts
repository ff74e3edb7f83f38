import protobuf from 'protobufjs';
import type { WireCheckRequest } from '../authz/wire-types.js';
import { MeshAuthzError } from '../errors.js';
import { CheckRequestType } from './codec.js';

/** A CheckRequest written as JSON that does not fit the proto. The message names the field path. */
export class RequestJsonError extends MeshAuthzError<'invalid_request_json'> {
  override readonly name = 'RequestJsonError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_request_json', message, options);
  }
}

/**
 * proto3 JSON (lowerCamelCase or the proto's snake_case names) → the same wire message the server decodes.
 * The result is encoded and decoded again, so offline tools see exactly what a Check over gRPC would see.
 * Map keys (headers, labels, context extensions, metadata namespaces) are kept verbatim; `google.protobuf.Struct`
 * and `Timestamp` take their proto3 JSON forms (a plain object, an RFC 3339 string).
 */
export function checkRequestFromJson(json: unknown): WireCheckRequest {
  const plain = convertMessage(CheckRequestType, json, '$') as Record<string, unknown>;
  const message = CheckRequestType.fromObject(plain);
  const err = CheckRequestType.verify(message);
  if (err) throw new RequestJsonError(`invalid CheckRequest: ${err}`);
  return CheckRequestType.decode(CheckRequestType.encode(message).finish()) as unknown as WireCheckRequest;
}

function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function convertMessage(type: protobuf.Type, json: unknown, path: string): unknown {
  switch (type.fullName) {
    case '.google.protobuf.Struct':
      if (!isPlainObject(json)) throw new RequestJsonError(`${path}: expected a JSON object (google.protobuf.Struct)`);
      return structFromJson(json);
    case '.google.protobuf.Value':
      return valueFromJson(json);
    case '.google.protobuf.ListValue':
      if (!Array.isArray(json)) throw new RequestJsonError(`${path}: expected an array (google.protobuf.ListValue)`);
      return { values: json.map(valueFromJson) };
    case '.google.protobuf.Timestamp':
      return timestampFromJson(json, path);
    case '.google.protobuf.BoolValue':
      if (typeof json !== 'boolean') throw new RequestJsonError(`${path}: expected true or false`);
      return { value: json };
    default:
      break;
  }
  if (!isPlainObject(json)) throw new RequestJsonError(`${path}: expected an object (${type.name})`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key] ?? type.fields[snakeToCamel(key)];
    if (!field) throw new RequestJsonError(`${path}.${key}: no such field in ${type.name}`);
    if (value === null) continue;
    field.resolve();
    const at = `${path}.${key}`;
    if (field.map) {
      if (!isPlainObject(value)) throw new RequestJsonError(`${at}: expected an object (map)`);
      const map: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) map[k] = convertField(field, v, `${at}[${JSON.stringify(k)}]`);
      out[field.name] = map;
    } else if (field.repeated) {
      if (!Array.isArray(value)) throw new RequestJsonError(`${at}: expected an array`);
      out[field.name] = value.map((v, i) => convertField(field, v, `${at}[${i}]`));
    } else {
      out[field.name] = convertField(field, value, at);
    }
  }
  return out;
}

function convertField(field: protobuf.Field, value: unknown, path: string): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return convertMessage(resolved, value, path);
  if (resolved instanceof protobuf.Enum) {
    if (typeof value === 'string' && !(value in resolved.values)) {
      throw new RequestJsonError(`${path}: '${value}' is not a value of ${resolved.name}`);
    }
    return value;
  }
  switch (field.type) {
    case 'string':
      if (typeof value !== 'string') throw new RequestJsonError(`${path}: expected a string`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw new RequestJsonError(`${path}: expected true or false`);
      return value;
    case 'bytes':
      if (typeof value !== 'string') throw new RequestJsonError(`${path}: expected base64 text`);
      return value;
    default:
      // Numbers: proto3 JSON allows numbers or decimal strings (int64 is usually a string).
      if (typeof value === 'number' || (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value))) return value;
      throw new RequestJsonError(`${path}: expected a number`);
  }
}

function structFromJson(json: Record<string, unknown>): unknown {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) fields[k] = valueFromJson(v);
  return { fields };
}

function valueFromJson(json: unknown): unknown {
  if (json === null) return { nullValue: 0 };
  if (typeof json === 'string') return { stringValue: json };
  if (typeof json === 'number') return { numberValue: json };
  if (typeof json === 'boolean') return { boolValue: json };
  if (Array.isArray(json)) return { listValue: { values: json.map(valueFromJson) } };
  return { structValue: structFromJson(json as Record<string, unknown>) };
}

function timestampFromJson(json: unknown, path: string): unknown {
  if (typeof json !== 'string') throw new RequestJsonError(`${path}: expected an RFC 3339 timestamp string`);
  const ms = Date.parse(json);
  if (!Number.isFinite(ms)) throw new RequestJsonError(`${path}: '${json}' is not an RFC 3339 timestamp`);
  const fraction = /\.(\d{1,9})/.exec(json)?.[1] ?? '';
  const nanos = fraction === '' ? 0 : Number(fraction.padEnd(9, '0'));
  return { seconds: Math.floor(ms / 1000), nanos };
}
