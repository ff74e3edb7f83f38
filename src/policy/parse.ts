import { isMap, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';
import type { FieldPath } from './issues.js';
import { formatIssue, type LoadedPolicy, type PolicyIssue } from './model.js';
import { readPlainYaml } from './plain-yaml.js';
import { validateDocument } from './validate.js';

/**
 * Reading policies from YAML/JSON text, files and folders: multi-document YAML, `kind: List` and the API server's
 * `kind: AuthorizationPolicyList`, other kinds
 * skipped with a note, every policy and every issue carrying its file and line.
 */

export interface ParsedPolicies {
  readonly policies: LoadedPolicy[];
  readonly issues: PolicyIssue[];
  readonly notes: string[];
}

const POLICY_GROUP = 'security.istio.io/';

/**
 * Parses every document of a YAML (or JSON) text; `file` is used in issues and sources. Policy files in the
 * common subset of YAML (and JSON) are read by the fast reader (plain-yaml.ts); a file it does not cover, or one
 * with any issue (whose lines need the syntax tree), is parsed by the `yaml` library instead.
 */
export function parsePolicyText(text: string, file: string): ParsedPolicies {
  return parsePlain(text, file) ?? parseWithLibrary(text, file);
}

/**
 * The fast path: null when the text leaves the reader's subset, when a `List` item has no line of its own (the
 * reader keeps lines for mappings and sequences only), or when there is any issue (it needs its field's line).
 */
function parsePlain(text: string, file: string): ParsedPolicies | null {
  const read = readPlainYaml(text);
  if (read === null) return null;
  const out: ParsedPolicies = { policies: [], issues: [], notes: [] };
  const lazyLines = lazyLineTables(text);
  for (const [docIndex, { value, line }] of read.docs.entries()) {
    const items = listItems(value);
    if (items === null) {
      addObject(value, file, () => line, out, lazyLines(docIndex, null), false);
      continue;
    }
    for (const [i, item] of items.entries()) {
      const itemLine = read.lineOf(item);
      if (itemLine === undefined) return null;
      addObject(item, file, () => itemLine, out, lazyLines(docIndex, i), false);
    }
  }
  return out.issues.length > 0 ? null : out;
}

function parseWithLibrary(text: string, file: string): ParsedPolicies {
  const out: ParsedPolicies = { policies: [], issues: [], notes: [] };
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  let index = 0;
  const lazyLines = lazyLineTables(text);
  const line = (offset: number) => lineCounter.linePos(offset).line;
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        out.issues.push({
          severity: 'error',
          file,
          line: line(e.pos[0]),
          path: '',
          message: `YAML syntax error: ${e.message.split('\n')[0]}`,
          code: 'yaml_syntax',
        });
      }
      continue;
    }
    const loaded = loadDocument(doc);
    if (loaded instanceof Error) {
      // An alias bomb (yaml's alias-count guard) or a structure too deep to load: an issue at the document's line,
      // not an exception (which stopped `serve` with a stack trace and no file:line).
      out.issues.push({
        severity: 'error',
        file,
        line: line(doc.contents?.range?.[0] ?? doc.range[0]),
        path: '',
        message: `YAML document cannot be loaded: ${loaded.message.split('\n')[0]}`,
        code: 'yaml_syntax',
      });
      continue;
    }
    const value = loaded;
    if (value == null) continue; // an empty document
    const root = doc.contents as Node;
    const lineIn = (base: FieldPath) => (path: FieldPath) => line(offsetOf(root, [...base, ...path]));
    const docIndex = index++;
    const items = listItems(value);
    if (items !== null) {
      items.forEach((item, i) => {
        addObject(item, file, lineIn(['items', i]), out, lazyLines(docIndex, i), true);
      });
    } else addObject(value, file, lineIn([]), out, lazyLines(docIndex, null), true);
  }
  return out;
}

/** A document's value, or the error its loading threw (the `yaml` library throws on too many aliases). */
function loadDocument(doc: { toJS(): unknown }): unknown {
  try {
    return doc.toJS();
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * The field-line tables of a file's documents (or `List` items), computed on first use by parsing the text again,
 * once per file. Only lint and explain read them; keeping them (or the YAML tree they come from) for every loaded
 * policy cost about 0.6 KB per rule, while the text is one string per file.
 */
function lazyLineTables(text: string): (docIndex: number, item: number | null) => () => Record<string, number> {
  let parsed: { roots: Node[]; line: (offset: number) => number } | null = null;
  const load = () => {
    const lineCounter = new LineCounter();
    // The documents both readers load from: without errors, not empty (then `contents` is not null either).
    const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false }).filter((d) => {
      if (d.errors.length > 0) return false;
      const value = loadDocument(d);
      return !(value instanceof Error) && value != null;
    });
    const line = (offset: number) => lineCounter.linePos(offset).line;
    return { roots: docs.map((d) => d.contents as Node), line };
  };
  return (docIndex, item) => () => {
    parsed ??= load();
    const root = parsed.roots[docIndex] ?? null;
    if (item === null) return fieldLines(root, parsed.line);
    const items = isMap(root) ? root.get('items') : null;
    return fieldLines(isSeq(items) ? ((items.items[item] as Node | undefined) ?? null) : null, parsed.line);
  };
}

/**
 * The items of a list document, or null for any other document: `kind: List` (what `kubectl get -o yaml` writes,
 * each item with its own apiVersion and kind), or `kind: AuthorizationPolicyList` of the security.istio.io group
 * (what the API server answers to a list call, `kubectl get --raw /apis/security.istio.io/v1/...`), whose items
 * carry no apiVersion or kind of their own: they take the list's. Skipping such a list with a note would silently
 * drop every DENY in it.
 */
function listItems(value: unknown): unknown[] | null {
  const obj = value as { kind?: unknown; apiVersion?: unknown; items?: unknown };
  if (!Array.isArray(obj.items)) return null;
  if (obj.kind === 'List') return obj.items;
  if (
    obj.kind !== 'AuthorizationPolicyList' ||
    typeof obj.apiVersion !== 'string' ||
    !obj.apiVersion.startsWith(POLICY_GROUP)
  ) {
    return null;
  }
  for (const item of obj.items) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) continue;
    const typed = item as { apiVersion?: unknown; kind?: unknown };
    typed.apiVersion ??= obj.apiVersion;
    typed.kind ??= 'AuthorizationPolicy';
  }
  return obj.items;
}

function addObject(
  obj: unknown,
  file: string,
  lineOf: (path: FieldPath) => number,
  out: ParsedPolicies,
  lines: () => Record<string, number>,
  fromLibrary: boolean,
): void {
  const o = (typeof obj === 'object' && obj !== null ? obj : {}) as Record<string, unknown>;
  // Only another API group (e.g. Linkerd's AuthorizationPolicy) is skipped; a policy without an apiVersion is
  // validated, and refused, rather than skipped: skipping would silently drop a DENY with a typo.
  const otherGroup = typeof o.apiVersion === 'string' && o.apiVersion !== '' && !o.apiVersion.startsWith(POLICY_GROUP);
  if (o.kind !== 'AuthorizationPolicy' || otherGroup) {
    const name = (o.metadata as { name?: unknown } | undefined)?.name;
    out.notes.push(
      `${file}:${lineOf([])}: skipped ${String(o.kind ?? 'a document without kind')}${name ? ` '${String(name)}'` : ''} (not an AuthorizationPolicy)`,
    );
    return;
  }
  const result = validateDocument(obj, file, lineOf);
  out.issues.push(...result.issues);
  if (result.loaded === null) return;
  // A plain copy of the validated value: what `toJS()` returns keeps far more alive than its own fields (measured
  // at ~1.6 KB per rule), and a valid policy holds only strings, arrays and mappings, so JSON copies it exactly.
  // The fast reader's values are plain already (exact-length arrays, one string per distinct scalar).
  const policy = fromLibrary
    ? (JSON.parse(JSON.stringify(result.loaded.policy)) as LoadedPolicy['policy'])
    : result.loaded.policy;
  const loaded: LoadedPolicy = { ...result.loaded, policy };
  let cached: Record<string, number> | undefined;
  Object.defineProperty(loaded, 'lines', {
    enumerable: false,
    get: () => {
      cached ??= lines();
      return cached;
    },
  });
  out.policies.push(loaded);
}

/**
 * Where a node starts. Every node the library parses has a range (only nodes built in code lack one), a mapping
 * entry always has a key node (an empty one where the key is missing), and a sequence item is always a node (a
 * `[a: b]` pair becomes a one-entry mapping with its own range).
 */
const start = (node: unknown): number => (node as Node).range![0];

/** The line of every field under `root`, keyed by field path (for lint and explain messages). */
function fieldLines(root: Node | null, line: (offset: number) => number): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (node: unknown, path: string): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = (pair.key as { value?: unknown }).value;
        if (typeof key !== 'string') continue;
        const at = path === '' ? key : `${path}.${key}`;
        out[at] = line(start(pair.key));
        walk(pair.value, at);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const at = `${path}[${i}]`;
        out[at] = line(start(item));
        walk(item, at);
      });
    }
  };
  walk(root, '');
  return out;
}

/**
 * The source offset of the deepest node along `path` that exists (the key's position for mapping entries). The
 * validator's paths name mapping entries by key and sequence items by index, and stop at the first missing or
 * scalar node.
 */
function offsetOf(root: Node, path: FieldPath): number {
  let node: unknown = root;
  let offset = start(root);
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown }).value === key);
      if (!pair) break;
      offset = start(pair.key);
      node = pair.value;
    } else if (isSeq(node)) {
      node = node.items[key as number];
      if (node === undefined) break;
      offset = start(node);
    } else break;
  }
  return offset;
}

/** Two documents with the same namespace/name: the cluster would keep only the last one applied. */
export function duplicateIssues(policies: readonly LoadedPolicy[]): PolicyIssue[] {
  const finder = new DuplicateFinder();
  for (const p of policies) finder.add(p);
  return finder.issues;
}

/**
 * {@link duplicateIssues} a policy at a time, so a caller that reads files one by one (a reload, in slices) finds
 * them as it goes instead of in one pass over the whole set at the end. Same issues, same order.
 */
export class DuplicateFinder {
  private readonly seen = new Map<string, LoadedPolicy>();
  readonly issues: PolicyIssue[] = [];

  add(p: LoadedPolicy): void {
    const key = `${p.policy.metadata.namespace}/${p.policy.metadata.name}`;
    const first = this.seen.get(key);
    if (first) {
      this.issues.push({
        severity: 'error',
        file: p.source.file,
        line: p.source.line,
        path: 'metadata.name',
        message: `policy ${key} is already defined at ${first.source.file}:${first.source.line}`,
        code: 'duplicate_policy',
      });
    } else this.seen.set(key, p);
  }
}

/** Issues as lines, errors first. */
export function formatIssues(issues: readonly PolicyIssue[]): string {
  return [...issues]
    .sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1))
    .map(formatIssue)
    .join('\n');
}
