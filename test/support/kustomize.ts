import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/**
 * A stand-in for `kustomize build` / `kubectl kustomize`, written for these tests: it renders the subset of a
 * Kustomization that istio/ uses (and that a user's overlay on it typically adds) in-process, without the kustomize
 * binary (CI cannot download it). Anything outside that subset is refused, so a kustomization using a feature this
 * renderer does not implement fails the tests instead of being rendered wrongly.
 *
 * Supported: `resources` (files, and folders holding a kustomization), `configMapGenerator` (files, literals,
 * `options.disableNameSuffixHash: true` only: the name hash is not reproduced), `patches` (strategic merge, a subset:
 * maps merge, `null` deletes, lists of objects with a `name` merge by name, other lists are replaced; and JSON 6902
 * add/remove/replace with a `target`), `images` (newName, newTag, digest). Semantics follow kustomize's docs
 * (kubectl.docs.kubernetes.io, "Kustomize" reference: resources, configMapGenerator, patches, images).
 */

export type K8sObject = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
};

/** One rendered object and the file it came from (for messages). */
export interface Rendered {
  readonly source: string;
  readonly obj: K8sObject;
}

const KNOWN_KEYS = new Set(['apiVersion', 'kind', 'resources', 'configMapGenerator', 'patches', 'images']);

interface ImageEntry {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}
interface PatchEntry {
  path?: string;
  patch?: string;
  target?: { kind?: string; name?: string; namespace?: string };
}
interface GeneratorEntry {
  name: string;
  namespace?: string;
  files?: string[];
  literals?: string[];
  options?: { disableNameSuffixHash?: boolean; labels?: Record<string, string> };
}

/** Renders the kustomization in `dir` (kustomization.yaml, .yml or Kustomization). */
export function renderKustomization(dir: string): Rendered[] {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
    .map((f) => join(dir, f))
    .find((f) => existsSync(f));
  if (!file) throw new Error(`${dir}: no kustomization.yaml`);
  const k = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(k)) {
    if (!KNOWN_KEYS.has(key)) throw new Error(`${file}: '${key}' is not supported by this test renderer`);
  }
  if (k['kind'] !== 'Kustomization') throw new Error(`${file}: kind must be Kustomization`);
  const out: Rendered[] = [];
  for (const entry of (k['resources'] ?? []) as string[]) {
    if (/^[a-z]+:\/\//.test(entry)) throw new Error(`${file}: remote resource ${entry} is not supported`);
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) out.push(...renderKustomization(path));
    else out.push(...readObjects(path));
  }
  for (const gen of (k['configMapGenerator'] ?? []) as GeneratorEntry[]) out.push(generateConfigMap(dir, file, gen));
  for (const p of (k['patches'] ?? []) as PatchEntry[]) applyPatch(dir, file, p, out);
  const images = (k['images'] ?? []) as ImageEntry[];
  for (const r of out) setImages(r.obj, images);
  const seen = new Set<string>();
  for (const r of out) {
    const id = `${r.obj.kind}/${r.obj.metadata?.namespace ?? ''}/${r.obj.metadata?.name}`;
    if (seen.has(id)) throw new Error(`${file}: ${id} is defined twice`);
    seen.add(id);
  }
  return out;
}

function readObjects(path: string): Rendered[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  const source = relative(process.cwd(), path);
  return docs.flatMap((d) => {
    if (d.errors.length > 0) throw new Error(`${source}: ${d.errors[0]!.message}`);
    const obj = d.toJS() as K8sObject | null;
    return obj ? [{ source, obj }] : [];
  });
}

function generateConfigMap(dir: string, file: string, gen: GeneratorEntry): Rendered {
  if (gen.options?.disableNameSuffixHash !== true)
    throw new Error(`${file}: configMapGenerator ${gen.name}: set options.disableNameSuffixHash (hash not reproduced)`);
  const data: Record<string, string> = {};
  for (const f of gen.files ?? []) {
    const [key, path] = f.includes('=') ? (f.split('=', 2) as [string, string]) : [basename(f), f];
    const abs = resolve(dir, path);
    if (relative(dir, abs).startsWith('..')) throw new Error(`${file}: ${path} is outside the kustomization root`);
    data[key] = readFileSync(abs, 'utf8');
  }
  for (const l of gen.literals ?? []) {
    const i = l.indexOf('=');
    data[l.slice(0, i)] = l.slice(i + 1);
  }
  const metadata: Record<string, unknown> = { name: gen.name };
  if (gen.namespace) metadata['namespace'] = gen.namespace;
  if (gen.options?.labels) metadata['labels'] = gen.options.labels;
  return { source: relative(process.cwd(), file), obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata, data } };
}

function applyPatch(dir: string, file: string, p: PatchEntry, objects: Rendered[]): void {
  if (p.path && relative(dir, resolve(dir, p.path)).startsWith('..'))
    throw new Error(`${file}: patch ${p.path} is outside the kustomization root (kustomize refuses it)`);
  const text = p.path ? readFileSync(resolve(dir, p.path), 'utf8') : p.patch;
  if (text === undefined) throw new Error(`${file}: a patch needs path or patch`);
  const body = parse(text) as unknown;
  const target = p.target ?? patchTarget(body, file);
  const hits = objects.filter(
    (r) =>
      (target.kind === undefined || r.obj.kind === target.kind) &&
      (target.name === undefined || r.obj.metadata?.name === target.name) &&
      (target.namespace === undefined || r.obj.metadata?.namespace === target.namespace),
  );
  if (hits.length === 0) throw new Error(`${file}: patch target ${JSON.stringify(target)} matches nothing`);
  for (const r of hits) {
    if (Array.isArray(body)) applyJson6902(r.obj, body as JsonOp[], file);
    else strategicMerge(r.obj, body as Record<string, unknown>);
  }
}

function patchTarget(body: unknown, file: string): NonNullable<PatchEntry['target']> {
  const obj = body as K8sObject;
  if (Array.isArray(body) || !obj?.kind || !obj.metadata?.name)
    throw new Error(`${file}: a patch without target must be a strategic merge patch naming kind and metadata.name`);
  return { kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace };
}

/** Strategic merge, the subset: maps merge, null deletes, lists of named objects merge by name. */
export function strategicMerge(into: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(patch)) {
    const current = into[key];
    if (value === null) delete into[key];
    else if (isMap(value) && isMap(current)) strategicMerge(current, value);
    else if (Array.isArray(value) && Array.isArray(current) && value.every((v) => isMap(v) && 'name' in v)) {
      for (const item of value as Record<string, unknown>[]) {
        const match = (current as Record<string, unknown>[]).find((c) => isMap(c) && c['name'] === item['name']);
        if (match) strategicMerge(match, item);
        else current.push(structuredClone(item));
      }
    } else into[key] = structuredClone(value);
  }
}

interface JsonOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

function applyJson6902(obj: Record<string, unknown>, ops: readonly JsonOp[], file: string): void {
  for (const op of ops) {
    const keys = op.path
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop();
    if (last === undefined) throw new Error(`${file}: empty JSON patch path`);
    let parent: unknown = obj;
    for (const key of keys) parent = (parent as Record<string, unknown>)?.[key];
    if (parent === null || typeof parent !== 'object') throw new Error(`${file}: ${op.path}: no such parent`);
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(index, 0, op.value);
      else if (index >= parent.length) throw new Error(`${file}: ${op.path}: no such element`);
      else if (op.op === 'remove') parent.splice(index, 1);
      else parent[index] = op.value;
    } else {
      const map = parent as Record<string, unknown>;
      if (op.op !== 'add' && !(last in map)) throw new Error(`${file}: ${op.path}: no such field`);
      if (op.op === 'remove') delete map[last];
      else if (op.op === 'add' || op.op === 'replace') map[last] = op.value;
      else throw new Error(`${file}: JSON patch op ${String(op.op)} is not supported`);
    }
  }
}

function setImages(obj: K8sObject, images: readonly ImageEntry[]): void {
  const spec = (obj['spec'] as { template?: { spec?: Record<string, unknown> } } | undefined)?.template?.spec;
  if (!spec) return;
  for (const list of ['containers', 'initContainers']) {
    for (const c of (spec[list] ?? []) as { image?: string }[]) {
      if (!c.image) continue;
      const name = c.image.replace(/@.*$/, '').replace(/:[^/:]+$/, '');
      const entry = images.find((i) => i.name === name);
      if (!entry) continue;
      const tag = entry.digest ? `@${entry.digest}` : entry.newTag ? `:${entry.newTag}` : c.image.slice(name.length);
      c.image = `${entry.newName ?? name}${tag}`;
    }
  }
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
