/**
 * A fast reader for the YAML that policy files are written in: block mappings and sequences, flow collections
 * (`[a, "b"]`, `{k: v}`) on one line, single-line plain and quoted scalars, and JSON (one flow collection over many
 * lines, as `kubectl -o json` prints). It is about 10× faster than the `yaml` library's parseAllDocuments + toJS
 * and keeps no syntax tree.
 *
 * It gives up (returns null) on anything outside that subset: anchors, aliases, tags, block scalars (`|`, `>`),
 * multi-line plain or quoted scalars, complex keys, directives, tabs, CR line ends, duplicate keys, nesting deeper
 * than 64 levels, and any input the `yaml` library would call an error. The caller then parses with the `yaml`
 * library, which also reports errors with their lines. What it accepts, it reads exactly as `yaml`'s parseAllDocuments(text).map(d => d.toJS()) does
 * (YAML 1.2 core schema); plain-yaml.spec.ts compares the two on generated and real policy files.
 */

/** One document of the text (empty documents are left out). */
export interface PlainDocument {
  readonly value: unknown;
  /** 1-based line of the document's root node. */
  readonly line: number;
}

export interface PlainYaml {
  readonly docs: readonly PlainDocument[];
  /** The line of a mapping or sequence at depth ≤ 2 (a document root, or an item of a `List`'s `items`). */
  readonly lineOf: (node: unknown) => number | undefined;
}

/** Thrown inside the reader when the input leaves the subset; never escapes {@link readPlainYaml}. */
const GIVE_UP: unique symbol = Symbol('give up');

function giveUp(): never {
  throw GIVE_UP;
}

/** Characters the reader leaves to the `yaml` library wherever they appear (tabs, CR, BOM, controls, NEL, LS/PS). */
const UNSUPPORTED_CHARS = /[\u0000-\u0009\u000b-\u001f\u007f\u0085\u2028\u2029\ufeff]/;
/** Characters that cannot start a plain scalar (YAML c-indicator); `-` is handled on its own. */
const INDICATORS = new Set(['?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`']);
/** Characters that end a plain scalar inside a flow collection. */
const FLOW_ENDS = new Set([',', '[', ']', '{', '}']);
/**
 * Nesting deeper than this is left to the library. Policies nest about ten levels; the library reports an error
 * once its own recursion runs out of stack (some hundreds of levels), and a few thousand would overflow this
 * reader's stack.
 */
const MAX_DEPTH = 64;

/** Reads `text`, or returns null when it leaves the subset (then use the `yaml` library). */
export function readPlainYaml(text: string): PlainYaml | null {
  if (UNSUPPORTED_CHARS.test(text)) return null;
  const reader = new Reader(text.split('\n'));
  try {
    const docs = reader.documents();
    const lines = reader.nodeLines;
    return { docs, lineOf: (node) => lines.get(node as object) };
  } catch (err) {
    if (err === GIVE_UP) return null;
    throw err;
  }
}

class Reader {
  /** Index of the current line. */
  private i = 0;
  /** Column inside the current line (flow collections only). */
  private col = 0;
  readonly nodeLines = new Map<object, number>();
  private readonly strings = new Map<string, string>();
  private readonly lists = new Map<string, unknown[]>();
  /** One-value string lists by their value (most lists in policies: one path, one principal). */
  private readonly singles = new Map<string, unknown[]>();
  /** Plain keys already checked (`plainKey`), by their text: a file repeats the same few dozen keys. */
  private readonly keys = new Map<string, string>();
  /**
   * The last {@link keyOn} answer and its line: a mapping's first key is looked at twice (to see it is one, then to
   * read it), always at the same column (a line is only ever asked about at its first content column).
   */
  private keyLine = -1;
  private keyFound: { key: string; after: number } | null = null;

  constructor(private readonly lines: readonly string[]) {}

  documents(): PlainDocument[] {
    const docs: PlainDocument[] = [];
    for (;;) {
      const indent = this.next();
      if (indent === -1) {
        if (this.i >= this.lines.length) return docs;
        // A `---` line: anything after it but a comment is left to the `yaml` library.
        restIsBlank(this.lines[this.i]!, 3);
        this.i++;
        continue;
      }
      const line = this.i + 1;
      const value = this.node(indent, -1, 0);
      if (typeof value !== 'object' || value === null) giveUp(); // a scalar document: not a policy file
      if (this.next() !== -1) giveUp();
      docs.push({ value, line });
    }
  }

  /**
   * Moves to the next content line (skipping blank and comment lines) and returns its indent, or -1 at the end of
   * the text or at a document marker. Gives up on lines the subset does not cover at column 0.
   */
  private next(): number {
    for (; this.i < this.lines.length; this.i++) {
      const s = this.lines[this.i]!;
      const p = skipSpaces(s, 0);
      if (p === s.length || s[p] === '#') continue;
      // `---x` is not a marker, but documents() gives up on it all the same. A `%` directive needs no rule here:
      // `%` starts no key or plain scalar, so any line it starts is left to the library.
      if (s.startsWith('---')) return -1;
      if (s.startsWith('...')) giveUp();
      return p;
    }
    return -1;
  }

  private record(node: object, depth: number, line: number): void {
    if (depth <= 2) this.nodeLines.set(node, line);
  }

  /** The block node whose first line is the current one, starting at column `indent` (> the parent's indent). */
  private node(indent: number, parentIndent: number, depth: number): unknown {
    const s = this.lines[this.i]!;
    if (isSeqStart(s, indent)) return this.sequence(indent, depth);
    const c = s[indent];
    if (c === '[' || c === '{') return this.flowOnLine(indent, depth, parentIndent === -1);
    if (this.keyOn(s, indent) !== null) return this.mapping(indent, indent, depth);
    return this.inline(s, indent, depth);
  }

  /** A block mapping at `indent`; its first key is on the current line at column `first`. */
  private mapping(indent: number, first: number, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) giveUp();
    const out: Record<string, unknown> = {};
    this.record(out, depth, this.i + 1);
    let col = first;
    for (;;) {
      const s = this.lines[this.i]!;
      const key = this.keyOn(s, col) ?? giveUp();
      if (Object.hasOwn(out, key.key) || key.key === '__proto__') giveUp();
      out[key.key] = this.value(s, key.after, indent, depth + 1);
      const next = this.next();
      if (next < indent) return out;
      if (next > indent) giveUp();
      col = indent;
    }
  }

  /** {@link keyAt} on the current line, remembered for the next question about the same line. */
  private keyOn(s: string, p: number): { key: string; after: number } | null {
    if (this.keyLine !== this.i) {
      this.keyFound = keyAt(s, p, this.keys);
      this.keyLine = this.i;
    }
    return this.keyFound;
  }

  /** The value after `key:` (at column `from`) of a mapping at `indent`. */
  private value(s: string, from: number, indent: number, depth: number): unknown {
    const p = skipSpaces(s, from);
    if (p < s.length && s[p] !== '#') return this.inline(s, p, depth);
    this.i++;
    const next = this.next();
    if (next > indent) return this.node(next, indent, depth);
    if (next === indent && isSeqStart(this.lines[this.i]!, indent)) return this.sequence(indent, depth);
    return null;
  }

  /** A block sequence at `indent` (its first `-` is on the current line). */
  private sequence(indent: number, depth: number): unknown[] {
    if (depth > MAX_DEPTH) giveUp();
    const out: unknown[] = [];
    const line = this.i + 1;
    for (;;) {
      const s = this.lines[this.i]!;
      const p = skipSpaces(s, indent + 1);
      if (p === s.length || s[p] === '#') {
        this.i++;
        const next = this.next();
        out.push(next > indent ? this.node(next, indent, depth + 1) : null);
      } else if (this.keyOn(s, p) !== null) {
        out.push(this.mapping(p, p, depth + 1));
      } else {
        out.push(this.inline(s, p, depth + 1)); // `- - a` (a compact nested sequence): plainInBlock gives up
      }
      // A line at this indent that is not an item ends the sequence (a compact sequence under a key). A deeper line
      // (an error or a continuation) ends it too: the mapping or document around it then gives up.
      const next = this.next();
      if (next < indent || !isSeqStart(this.lines[this.i]!, indent)) return this.list(out, depth, line);
    }
  }

  /**
   * A finished sequence, copied to an array of its exact length (`push` leaves spare capacity behind). Below the
   * depths whose lines are kept, a list of strings is one shared array per distinct content (methods, paths and
   * callers repeat across a file's rules); the policy model is read-only.
   */
  private list(items: unknown[], depth: number, line: number): unknown[] {
    if (depth > 2 && items.length === 1 && typeof items[0] === 'string') {
      const known = this.singles.get(items[0]);
      if (known !== undefined) return known;
      const out = [items[0]];
      this.singles.set(items[0], out);
      return out;
    }
    if (depth > 2 && items.length <= 16 && items.every((v) => typeof v === 'string')) {
      const key = JSON.stringify(items);
      const known = this.lists.get(key);
      if (known !== undefined) return known;
      const out = items.slice();
      this.lists.set(key, out);
      return out;
    }
    const out = items.slice();
    this.record(out, depth, line);
    return out;
  }

  /** One string object per distinct scalar in the file (policies repeat methods, keys, principals, paths). */
  private scalar(value: unknown): unknown {
    if (typeof value !== 'string') return value;
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    this.strings.set(value, value);
    return value;
  }

  /** A value that ends on this line: a flow collection or a scalar. Moves to the next line. */
  private inline(s: string, p: number, depth: number): unknown {
    const c = s[p]!;
    if (c === '[' || c === '{') return this.flowOnLine(p, depth, false);
    let value: unknown;
    if (c === '"' || c === "'") {
      const q = quoted(s, p);
      restIsBlank(s, q.end);
      value = q.value;
    } else value = plainInBlock(s, p);
    this.i++;
    return this.scalar(value);
  }

  /** A flow collection starting at column `p` of the current line; only a document root may span lines (JSON). */
  private flowOnLine(p: number, depth: number, multiLine: boolean): unknown {
    this.col = p;
    const value = this.flow(depth, multiLine); // flowSpace keeps it on this line unless multiLine
    restIsBlank(this.lines[this.i]!, this.col);
    this.i++;
    return value;
  }

  /** Skips spaces, comments and (when allowed) line breaks inside a flow collection. */
  private flowSpace(multiLine: boolean): void {
    for (;;) {
      const s = this.lines[this.i]!;
      this.col = skipSpaces(s, this.col);
      if (this.col < s.length && !(s[this.col] === '#' && (this.col === 0 || s[this.col - 1] === ' '))) return;
      if (!multiLine || this.i + 1 >= this.lines.length) giveUp();
      this.i++;
      this.col = 0;
      const t = this.lines[this.i]!;
      if (t.startsWith('---') || t.startsWith('...')) giveUp();
    }
  }

  private flow(depth: number, multiLine: boolean): unknown {
    if (depth > MAX_DEPTH) giveUp();
    const s = this.lines[this.i]!;
    const c = s[this.col]!;
    if (c === '[') {
      const out: unknown[] = [];
      const line = this.i + 1;
      this.col++;
      for (;;) {
        this.flowSpace(multiLine);
        if (this.lines[this.i]![this.col] === ']') break;
        out.push(this.flow(depth + 1, multiLine));
        this.flowSpace(multiLine);
        const d = this.lines[this.i]![this.col];
        if (d === ']') break;
        if (d !== ',') giveUp();
        this.col++;
      }
      this.col++;
      return this.list(out, depth, line);
    }
    if (c === '{') {
      const out: Record<string, unknown> = {};
      this.record(out, depth, this.i + 1);
      this.col++;
      for (;;) {
        this.flowSpace(multiLine);
        if (this.lines[this.i]![this.col] === '}') break;
        this.flowEntry(out, depth + 1, multiLine);
        this.flowSpace(multiLine);
        const d = this.lines[this.i]![this.col];
        if (d === '}') break;
        if (d !== ',') giveUp();
        this.col++;
      }
      this.col++;
      return out;
    }
    if (c === '"' || c === "'") {
      const q = quoted(s, this.col);
      this.col = q.end;
      return this.scalar(q.value);
    }
    const end = plainEnd(s, this.col, false);
    const value = resolvePlain(s.slice(this.col, end).trimEnd());
    this.col = end;
    return this.scalar(value);
  }

  /** `key: value` inside `{...}`: the colon on the key's line, the value anywhere after it. */
  private flowEntry(out: Record<string, unknown>, depth: number, multiLine: boolean): void {
    const s = this.lines[this.i]!;
    const c = s[this.col]!;
    let key: string;
    let jsonLike = false;
    if (c === '"' || c === "'") {
      const q = quoted(s, this.col);
      key = q.value;
      this.col = q.end;
      jsonLike = true;
    } else {
      const end = plainEnd(s, this.col, true);
      key = plainKey(s.slice(this.col, end).trimEnd());
      this.col = end;
    }
    this.col = skipSpaces(s, this.col);
    // After a plain key the colon needs a space or the line end after it (`{a:b}` is one scalar; plainEnd stops a
    // key at any colon); after a quoted key it does not (`{"a":1}`).
    if (s[this.col] !== ':' || (!jsonLike && this.col + 1 < s.length && s[this.col + 1] !== ' ')) giveUp();
    if (Object.hasOwn(out, key) || key === '__proto__') giveUp();
    this.col++;
    this.flowSpace(multiLine);
    const d = this.lines[this.i]![this.col];
    out[key] = d === ',' || d === '}' ? null : this.flow(depth, multiLine);
  }
}

function skipSpaces(s: string, p: number): number {
  // The bound is for speed only (charCodeAt past the end is NaN, but reading past the end is slow in V8: kubectl
  // JSON read 10-50% slower without it).
  while (p < s.length && s.charCodeAt(p) === 32) p++;
  return p;
}

/** `-` followed by a space or the end of the line, at column `p`. */
function isSeqStart(s: string, p: number): boolean {
  return s[p] === '-' && (p + 1 === s.length || s[p + 1] === ' ');
}

/** After a value: only spaces, then nothing or a comment (which needs a space before its `#`). */
function restIsBlank(s: string, p: number): void {
  const q = skipSpaces(s, p);
  if (q < s.length && !(s[q] === '#' && q > p)) giveUp();
}

/** An implicit key at column `p` (`key:` followed by a space or the end of the line), or null. */
function keyAt(s: string, p: number, checked: Map<string, string>): { key: string; after: number } | null {
  const c = s[p]!;
  if (c === '"' || c === "'") {
    const q = quoted(s, p);
    const e = skipSpaces(s, q.end);
    if (s[e] === ':' && (e + 1 === s.length || s[e + 1] === ' ')) return { key: q.value, after: e + 1 };
    return null;
  }
  if (INDICATORS.has(c) || c === '-') return null;
  for (let j = p; j < s.length; j++) {
    const ch = s[j];
    if (ch === ':' && (j + 1 === s.length || s[j + 1] === ' ')) {
      if (j - p > 1000) giveUp(); // the `yaml` library limits implicit keys to 1024 characters
      const raw = s.slice(p, j).trimEnd();
      let key = checked.get(raw);
      if (key === undefined) {
        key = plainKey(raw);
        checked.set(raw, key);
      }
      return { key, after: j + 1 };
    }
    if (ch === '#' && s[j - 1] === ' ') return null;
  }
  return null;
}

/**
 * A plain key must read as a string (not empty, null, a boolean or a number). Flow indicators inside a block key
 * (`a[0]: x`) are part of it, as in the library; a flow key never holds one (plainEnd stops there).
 */
function plainKey(raw: string): string {
  if (typeof resolvePlain(raw) !== 'string') giveUp();
  return raw;
}

/** A plain scalar in block context, from `p` to the end of the line or a comment. */
function plainInBlock(s: string, p: number): unknown {
  const c = s[p]!;
  if (INDICATORS.has(c) || isSeqStart(s, p)) giveUp();
  let end = s.length;
  for (let j = p; j < s.length; j++) {
    const ch = s[j];
    if (ch === '#' && s[j - 1] === ' ') {
      end = j;
      break;
    }
    if (ch === ':' && (j + 1 === s.length || s[j + 1] === ' ')) giveUp(); // `a: b: c` is an error in YAML
  }
  return resolvePlain(s.slice(p, end).trimEnd());
}

/**
 * Where a plain scalar that starts at `p` inside a flow collection ends. A key ends at its colon; a colon in any
 * other scalar (`[a: b]` is a pair, `[a:b]` one scalar) is left to the library.
 */
function plainEnd(s: string, p: number, key: boolean): number {
  const c = s[p]!; // the callers skip spaces and line ends first: there is a character at `p`
  const after = s[p + 1];
  if (INDICATORS.has(c)) giveUp();
  if (c === '-' && (after === undefined || after === ' ' || FLOW_ENDS.has(after))) giveUp();
  let j = p;
  for (; j < s.length; j++) {
    const ch = s[j]!;
    if (FLOW_ENDS.has(ch)) break;
    if (ch === ':') {
      if (key) break; // flowEntry then gives up unless a space or the line end follows (`{a:b}` is one scalar)
      giveUp();
    }
    if (ch === '#' && s[j - 1] === ' ') break;
  }
  return j;
}

/** YAML 1.2 core schema resolution of a plain scalar, as the `yaml` library does it (yaml/dist/schema/core). */
export function resolvePlain(raw: string): unknown {
  const c = raw.charCodeAt(0);
  // Fast exit: most scalars start with a letter that no null, bool or number can start with.
  const maybeSpecial = raw === '' || c === 126 || c === 43 || c === 45 || c === 46 || (c >= 48 && c <= 57);
  if (!maybeSpecial && (raw.length > 5 || !/^(?:[Nn]ull|NULL|[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(raw))) return raw;
  if (/^(?:~|[Nn]ull|NULL)?$/.test(raw)) return null;
  if (/^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(raw)) return raw[0] === 't' || raw[0] === 'T';
  if (/^0o[0-7]+$/.test(raw)) return parseInt(raw.substring(2), 8);
  if (/^[-+]?[0-9]+$/.test(raw)) return parseInt(raw, 10);
  if (/^0x[0-9a-fA-F]+$/.test(raw)) return parseInt(raw, 16); // with radix 16, parseInt skips the `0x` itself
  if (/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(raw)) {
    if (raw.slice(-3).toLowerCase() === 'nan') return Number.NaN;
    return raw[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(raw)) return parseFloat(raw);
  if (/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(raw)) return parseFloat(raw);
  return raw;
}

const ESCAPES: Readonly<Record<string, string>> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  t: '\t',
  n: '\n',
  v: '\v',
  f: '\f',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
};

/** A quoted scalar that closes on the same line; `end` is the column after the closing quote. */
function quoted(s: string, p: number): { value: string; end: number } {
  const q = s[p]!;
  let out = '';
  let j = p + 1;
  for (;;) {
    const k = q === "'" ? s.indexOf("'", j) : nextOf(s, j);
    if (k === -1) giveUp(); // runs onto the next line: folding is left to the library
    out += s.slice(j, k);
    if (q === "'") {
      if (s[k + 1] !== "'") return { value: out, end: k + 1 };
      out += "'";
      j = k + 2;
    } else if (s[k] === '"') {
      return { value: out, end: k + 1 };
    } else {
      const e = s.charAt(k + 1); // '' after a `\` that ends the line: no escape, so the library reads it
      if (e === 'u') {
        const hex = s.slice(k + 2, k + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) giveUp();
        out += String.fromCharCode(parseInt(hex, 16));
        j = k + 6;
      } else {
        const r = ESCAPES[e];
        if (r === undefined) giveUp();
        out += r;
        j = k + 2;
      }
    }
  }
}

/** The next `"` or `\` at or after `j`, or -1. */
function nextOf(s: string, j: number): number {
  for (; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 34 || c === 92) return j;
  }
  return -1;
}
