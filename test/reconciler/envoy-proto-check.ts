import { existsSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';

/**
 * Checks an Envoy config (parsed YAML) against Envoy's own protos (the copies shipped in @grpc/grpc-js-xds): every
 * field name must exist on its message (snake_case or JSON name), enums must name a value, `typed_config` Anys
 * must name a known type and are checked recursively, and at most one member of each oneof is set. No Envoy binary
 * runs here; this catches the misspelled or misplaced fields `envoy --mode validate` would reject.
 */

const deps = join(import.meta.dirname, '../../node_modules/@grpc/grpc-js-xds/deps');
const includeDirs = [
  ...['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((d) => join(deps, d)),
  // google/protobuf/*.proto (descriptor.proto for custom options).
  join(import.meta.dirname, '../../node_modules/protobufjs'),
];

export function loadEnvoyProtos(files: readonly string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of includeDirs) {
      const p = join(dir, target);
      if (existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync([...files], { keepCase: true });
  root.resolveAll();
  return root;
}

const SCALAR_WELL_KNOWN = new Set([
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.BoolValue',
  'google.protobuf.UInt32Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.Int64Value',
  'google.protobuf.DoubleValue',
  'google.protobuf.StringValue',
]);

export function checkMessage(root: protobuf.Root, type: protobuf.Type, value: unknown, path: string): string[] {
  const full = type.fullName.replace(/^\./, '');
  if (SCALAR_WELL_KNOWN.has(full)) return [];
  if (full === 'google.protobuf.Struct' || full === 'google.protobuf.Value') return [];
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return [`${path}: expected a ${full} object`];
  const obj = value as Record<string, unknown>;
  if (full === 'google.protobuf.Any') {
    const url = obj['@type'];
    if (typeof url !== 'string') return [`${path}: Any without @type`];
    const name = url.replace(/^type\.googleapis\.com\//, '');
    let inner: protobuf.Type;
    try {
      inner = root.lookupType(name);
    } catch {
      return [`${path}: unknown @type ${name}`];
    }
    const { '@type': _t, ...rest } = obj;
    return checkMessage(root, inner, rest, `${path}<${name}>`);
  }
  const issues: string[] = [];
  const byName = new Map<string, protobuf.Field>();
  for (const f of type.fieldsArray) {
    byName.set(f.name, f);
    const json = f.options?.['json_name'] as string | undefined;
    byName.set(json ?? f.name.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()), f);
  }
  for (const [key, v] of Object.entries(obj)) {
    const field = byName.get(key);
    if (!field) {
      issues.push(`${path}.${key}: no such field on ${full}`);
      continue;
    }
    const at = `${path}.${key}`;
    const check = (item: unknown, where: string) => {
      if (field.resolvedType instanceof protobuf.Type)
        issues.push(...checkMessage(root, field.resolvedType, item, where));
      else if (field.resolvedType instanceof protobuf.Enum) {
        if (typeof item === 'string' && !(item in field.resolvedType.values))
          issues.push(`${where}: ${item} is not a ${field.resolvedType.name}`);
      }
    };
    if (field instanceof protobuf.MapField) {
      for (const [k, item] of Object.entries((v ?? {}) as Record<string, unknown>)) check(item, `${at}[${k}]`);
    } else if (field.repeated) {
      if (!Array.isArray(v)) issues.push(`${at}: expected a list`);
      else for (const [i, item] of v.entries()) check(item, `${at}[${i}]`);
    } else check(v, at);
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.oneof.filter((n) => n in obj);
    if (set.length > 1) issues.push(`${path}: oneof ${oneof.name} has ${set.join(' and ')}`);
  }
  return issues;
}
