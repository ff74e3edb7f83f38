import { CST, type LineCounter, Parser, type YAMLError } from 'yaml';
import type { z } from 'zod';

/**
 * Helpers that make config errors point at the mistake: the nearest known key for a misspelled one, and the line
 * where an unclosed quote or flow collection was opened (the YAML parser notices those only where it gives up,
 * often many lines later).
 */

/** Keys the schema accepts for the object at `path` (array indexes step into the element type). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: unknown = schema;
  for (const key of [...path, null]) {
    node = unwrap(node);
    const def = (node as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return [];
    if (key === null) return def['type'] === 'object' ? Object.keys(def['shape'] as object) : [];
    if (def['type'] === 'object') node = (def['shape'] as Record<string, unknown>)[String(key)];
    else if (def['type'] === 'array') node = def['element'];
    else if (def['type'] === 'record') node = def['valueType'];
    else return [];
  }
  return [];
}

function unwrap(node: unknown): unknown {
  for (;;) {
    const def = (node as { _zod?: { def?: Record<string, unknown> } })?._zod?.def;
    if (!def) return node;
    if (def['type'] === 'default' || def['type'] === 'optional' || def['type'] === 'nullable') node = def['innerType'];
    else if (def['type'] === 'pipe') node = def['in'];
    else return node;
  }
}

/** The known key closest to `key`, when it is close enough to be a likely typo (case, one or two letters). */
export function nearestKey(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(key.length / 3));
  return best !== null && bestDistance <= limit ? best : null;
}

/** Levenshtein distance (insert, delete, substitute), two rows. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Where a YAML syntax error really is. The parser reports an unterminated quoted string or flow collection (`{`, `[`)
 * where it ran out of input or indentation; the construct that was never closed, opened before that point, is the
 * mistake. Returns the 1-based line to report for the first of `errors`.
 */
export function syntaxErrorLine(text: string, errors: readonly YAMLError[], lc: LineCounter): number {
  // A value that runs on into a more indented `key: value` line becomes a multi-line implicit key; the parser
  // reports the line it started on, but the mistake is the over-indented line that continued it.
  const multiline = errors.find((e) => e.code === 'MULTILINE_IMPLICIT_KEY');
  if (multiline) {
    const lineBreak = text.indexOf('\n', multiline.pos[0]);
    if (lineBreak >= 0 && lineBreak < multiline.pos[1]) return lc.linePos(lineBreak + 1).line;
  }
  const errorOffset = errors[0]?.pos[0] ?? 0;
  let opened: number | null = null;
  const consider = (offset: number) => {
    if (offset <= errorOffset && (opened === null || offset < opened)) opened = offset;
  };
  for (const token of new Parser().parse(text)) {
    if (token.type !== 'document') continue;
    CST.visit(token, (item) => {
      for (const v of [item.key, item.value]) {
        if (!v) continue;
        if (v.type === 'flow-collection') {
          const close = v.start.source === '{' ? '}' : ']';
          if (!v.end.some((t) => t.source === close)) consider(v.offset);
        } else if (v.type === 'double-quoted-scalar' || v.type === 'single-quoted-scalar') {
          if (!isClosedQuote(v.source)) consider(v.offset);
        }
      }
    });
  }
  return lc.linePos(opened ?? errorOffset).line;
}

function isClosedQuote(source: string): boolean {
  const q = source[0];
  if (source.length < 2 || !source.endsWith(q!)) return false;
  if (q === "'") return true; // '' inside single quotes is an escaped quote, and the token ends at a real one
  let backslashes = 0;
  for (let i = source.length - 2; i >= 0 && source[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 0;
}
