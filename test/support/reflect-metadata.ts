/**
 * @peculiar/x509 (used to generate test certificates) pulls in tsyringe, which insists on a `reflect-metadata`
 * polyfill. That package is not installed, and only the metadata calls tsyringe makes are needed, so this is a
 * minimal stand-in for tests. Import it BEFORE @peculiar/x509 (test/support/pki.ts does).
 */
type MetaMap = Map<unknown, unknown>;
const store = new WeakMap<object, Map<PropertyKey | undefined, MetaMap>>();

function table(target: object, prop: PropertyKey | undefined, create: boolean): MetaMap | undefined {
  let byProp = store.get(target);
  if (!byProp && create) {
    byProp = new Map();
    store.set(target, byProp);
  }
  let map = byProp?.get(prop);
  if (!map && create && byProp) {
    map = new Map();
    byProp.set(prop, map);
  }
  return map;
}

const api = {
  defineMetadata(key: unknown, value: unknown, target: object, prop?: PropertyKey) {
    table(target, prop, true)!.set(key, value);
  },
  getOwnMetadata(key: unknown, target: object, prop?: PropertyKey) {
    return table(target, prop, false)?.get(key);
  },
  getMetadata(key: unknown, target: object, prop?: PropertyKey): unknown {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const map = table(t, prop, false);
      if (map?.has(key)) return map.get(key);
    }
    return undefined;
  },
  hasMetadata(key: unknown, target: object, prop?: PropertyKey) {
    return api.getMetadata(key, target, prop) !== undefined;
  },
  metadata(key: unknown, value: unknown) {
    return (target: object, prop?: PropertyKey) => api.defineMetadata(key, value, target, prop);
  },
};

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect.getMetadata !== 'function') Object.assign(reflect, api);
