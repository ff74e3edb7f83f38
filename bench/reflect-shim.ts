/**
 * @peculiar/x509 loads tsyringe, which refuses to start without a `reflect-metadata` polyfill (not installed). The
 * bench only needs the few metadata calls tsyringe makes, so this installs a minimal store on `Reflect` when none
 * exists. Import it before @peculiar/x509. Bench-only: the product does not use @peculiar/x509 at runtime.
 */
type Store = WeakMap<object, Map<string, Map<unknown, unknown>>>;
const store: Store = new WeakMap();

function own(target: object, prop: PropertyKey | undefined, create: boolean): Map<unknown, unknown> | undefined {
  let byProp = store.get(target);
  if (byProp === undefined) {
    if (!create) return undefined;
    byProp = new Map();
    store.set(target, byProp);
  }
  const slot = String(prop);
  let map = byProp.get(slot);
  if (map === undefined && create) {
    map = new Map();
    byProp.set(slot, map);
  }
  return map;
}

function lookup(key: unknown, target: object, prop?: PropertyKey): unknown {
  for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
    const map = own(t, prop, false);
    if (map?.has(key)) return map.get(key);
  }
  return undefined;
}

const shim = {
  defineMetadata: (key: unknown, value: unknown, target: object, prop?: PropertyKey) => {
    own(target, prop, true)!.set(key, value);
  },
  getOwnMetadata: (key: unknown, target: object, prop?: PropertyKey) => own(target, prop, false)?.get(key),
  getMetadata: lookup,
  hasMetadata: (key: unknown, target: object, prop?: PropertyKey) => lookup(key, target, prop) !== undefined,
  metadata: (key: unknown, value: unknown) => (target: object, prop?: PropertyKey) => {
    own(target, prop, true)!.set(key, value);
  },
};

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect.getMetadata !== 'function') Object.assign(reflect, shim);
