/**
 * @peculiar/x509 uses tsyringe, which insists on a Reflect metadata polyfill (reflect-metadata or similar) being
 * loaded first. None is installed, and tsyringe only needs get/define/getOwn metadata, so this is a minimal one.
 * Import it before @peculiar/x509.
 */
type Target = object;
const store = new WeakMap<Target, Map<string | symbol, Map<unknown, unknown>>>();

function table(
  target: Target,
  property: string | symbol | undefined,
  create: boolean,
): Map<unknown, unknown> | undefined {
  let byProp = store.get(target);
  if (!byProp && create) {
    byProp = new Map();
    store.set(target, byProp);
  }
  const key = property ?? '';
  let t = byProp?.get(key);
  if (!t && create && byProp) {
    t = new Map();
    byProp.set(key, t);
  }
  return t;
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') {
  const getOwnMetadata = (key: unknown, target: Target, property?: string | symbol) =>
    table(target, property, false)?.get(key);
  R.defineMetadata = (key: unknown, value: unknown, target: Target, property?: string | symbol) => {
    table(target, property, true)!.set(key, value);
  };
  R.getOwnMetadata = getOwnMetadata;
  R.getMetadata = (key: unknown, target: Target, property?: string | symbol) => {
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
      const v = getOwnMetadata(key, t, property);
      if (v !== undefined) return v;
    }
    return undefined;
  };
}
