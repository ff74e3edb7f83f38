import { isDeepStrictEqual } from 'node:util';
import { isMap, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import { readPlainYaml } from '../../src/policy/plain-yaml.js';

/**
 * What the `yaml` library reads from a text: the reference the fast policy reader (src/policy/plain-yaml.ts) must
 * match on every text it accepts. `values` and `lines` are the non-empty documents and their root lines;
 * `itemLines` the line of each mapping or sequence among a `kind: List` document's items (what parse.ts asks the
 * fast reader for).
 */
export interface YamlReference {
  readonly errors: string[];
  readonly values: unknown[];
  readonly lines: number[];
  readonly itemLines: number[];
}

export function yamlReference(text: string): YamlReference {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const errors = docs.flatMap((d) => d.errors.map((e) => e.message.split('\n')[0]!));
  const kept = docs.flatMap((d) => {
    if (d.errors.length > 0) return [];
    const value = d.toJS() as unknown;
    return value === null || value === undefined ? [] : [{ doc: d, value }];
  });
  const lineOf = (node: unknown) => lineCounter.linePos((node as { range: number[] }).range[0]!).line;
  const itemLines = kept.flatMap(({ doc, value }) => {
    const root = doc.contents;
    const items = isMap(root) && (value as { kind?: unknown }).kind === 'List' ? root.get('items', true) : null;
    return isSeq(items) ? items.items.filter((i) => isMap(i) || isSeq(i)).map(lineOf) : [];
  });
  return {
    errors,
    values: kept.map((k) => k.value),
    lines: kept.map((k) => lineOf(k.doc.contents)),
    itemLines,
  };
}

/** The mappings and sequences among a `kind: List` document's items (those whose line the fast reader gives). */
export function listItems(value: unknown): unknown[] {
  const v = value as { kind?: unknown; items?: unknown } | null;
  if (v === null || typeof v !== 'object' || v.kind !== 'List' || !Array.isArray(v.items)) return [];
  return v.items.filter((i) => typeof i === 'object' && i !== null);
}

/**
 * Why the fast reader's answer on `text` breaks its contract, or null when it gives up or agrees. Values are
 * compared strictly (`-0` is not `0`, NaN is NaN), as the policy model would see them.
 */
export function disagreement(text: string): string | null {
  const read = readPlainYaml(text);
  if (read === null) return null;
  const want = yamlReference(text);
  if (want.errors.length > 0) return `accepted, but the library reports ${want.errors[0]}`;
  const values = read.docs.map((d) => d.value);
  if (!isDeepStrictEqual(values, want.values)) return 'different values';
  const lines = read.docs.map((d) => d.line);
  if (!isDeepStrictEqual(lines, want.lines)) return 'different document lines';
  const itemLines = read.docs.flatMap((d) => listItems(d.value).map((item) => read.lineOf(item)));
  if (!isDeepStrictEqual(itemLines, want.itemLines)) return 'different List item lines';
  return null;
}
