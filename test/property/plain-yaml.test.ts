import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMap, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import { readPlainYaml } from '../../src/policy/plain-yaml.js';
import { propertyRuns } from '../support/property-runs.js';

/**
 * The fast policy-file reader (plain-yaml.ts) against the `yaml` library, the reference: on any text the
 * fast path accepts, the library must see no error and read the same values, and the fast path's lines (each
 * document root, each `List` item) must be the library's.
 * Texts are the repository's own YAML and JSON files, and random edits of policy-shaped texts (edits made of the
 * characters YAML gives meaning to), so that both sides of every give-up rule are exercised.
 */

const RUNS = propertyRuns(3000);
const root = join(import.meta.dirname, '..', '..');

function reference(text: string): { errors: string[]; values: unknown[]; lines: number[]; itemLines: number[] } {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter });
  const errors = docs.flatMap((d) => d.errors.map((e) => e.message.split('\n')[0]!));
  const kept = docs.filter((d) => d.errors.length === 0 && d.toJS() != null);
  const lineOf = (node: unknown) => lineCounter.linePos((node as { range: number[] }).range[0]!).line;
  // The library's line of each mapping or sequence among a List's items (what parse.ts asks the fast path for).
  const itemLines = kept.flatMap((d) => {
    const root = d.contents;
    const items = isMap(root) && (d.toJS() as { kind?: unknown }).kind === 'List' ? root.get('items', true) : null;
    return isSeq(items) ? items.items.filter((i) => isMap(i) || isSeq(i)).map(lineOf) : [];
  });
  return {
    errors,
    values: kept.map((d) => d.toJS() as unknown),
    lines: kept.map((d) => lineOf(d.contents)),
    itemLines,
  };
}

function expectSame(text: string): boolean {
  const read = readPlainYaml(text);
  if (read === null) return false;
  const want = reference(text);
  expect(want.errors, text).toEqual([]);
  expect(read.docs.map((d) => d.value)).toEqual(want.values);
  expect(read.docs.map((d) => d.line)).toEqual(want.lines);
  expect(read.docs.flatMap((d) => listItems(d.value).map((item) => read.lineOf(item)))).toEqual(want.itemLines);
  return true;
}

/** The mappings and sequences among a `kind: List` document's items (those whose line the fast path gives). */
function listItems(value: unknown): unknown[] {
  const v = value as { kind?: unknown; items?: unknown } | null;
  if (v === null || typeof v !== 'object' || v.kind !== 'List' || !Array.isArray(v.items)) return [];
  return v.items.filter((i) => typeof i === 'object' && i !== null);
}

const policy = readFileSync(join(root, 'examples/policies', 'orders.yaml'), 'utf8');
const bases = [
  policy,
  `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: X\n  metadata: {name: a, "namespace": 'b'}\n-\n  kind: Y\n  spec:\n    rules:\n    - {}\n    - to: [{operation: {paths: ["/a", '/b']}}]\n`,
  JSON.stringify({ kind: 'List', items: [{ a: 1, b: [true, null, 'x'], c: { d: 'e:f' } }, { g: -1.5e3 }] }, null, 2),
  `# c\n---\na: 1\nb:\n  - x # y\n  - 'it''s'\n  - "q\\"\\u00e9\\n"\nc: ~\nd:\ne: 0o17\nf: 0x1F\ng: .inf\nh: 1.\n---\n- a\n- b: c\n  d: e\n`,
  `a:\n  # less indented comment\n    b: 1\n  # c\n    c: [x, "y", {z: 1}]\nd:\n- e:\n  - f\n  g: h\n`,
  `{"apiVersion": "v1", "kind": "List",\n "items": [ {"a": "x", 'b': [1, 2.5, -3, 0x1F, .inf, ~, null, true]},\n  {c: d, "e": {"f": []}} ,\n ] } # end\n`,
  `kind: List\nitems:\n- a: |\n    x\n     y\n  b: >-\n    z\n\n    w\n- c: d\n    e\n- f: "g\n    h"\n  i: [1,\n    2]\n- - h\n  - [i: j]\n`,
  `a: "x"\n'b c': 'y' # c\n"d": [a, 'b', "c", {e: f}]\ng:\n  - {}\n  - []\n  -\n    h: i\n  - j: k\n    l:\n    - m\n`,
];
const pieces = [
  ' ',
  '  ',
  '\n',
  '\n  ',
  '\n- ',
  ':',
  ': ',
  '-',
  '- ',
  '#',
  ' #',
  '"',
  "'",
  '[',
  ']',
  '{',
  '}',
  ',',
  ', ',
  '---\n',
  '...',
  'a',
  '1',
  '0x1',
  '.5',
  'true',
  'null',
  '~',
  '\\',
  '\\u00',
  '?',
  '&a',
  '*a',
  '!t',
  '|',
  '>',
  '%',
  '@',
  'é',
  'x: y',
  '__proto__: 1',
  '<<: a',
  '\t',
  '\r',
  '\u2028',
  '[]',
  '{}',
  ' : ',
  '""',
  "''",
  '0o7',
  '-.inf',
  '1e3',
  'e999',
  '.nan',
  '- -',
  '? ',
  '\n---\n',
  '\n...\n',
];

/**
 * The repository's YAML and JSON files: what git tracks, or, where git lists nothing (a copy of the tree outside
 * any checkout, such as Stryker's sandbox, which has no `.git`), the files found by walking the tree without the
 * folders git ignores.
 */
function repositoryFiles(): string[] {
  let listed: string[] = [];
  try {
    listed = execFileSync('git', ['ls-files', '*.yaml', '*.yml', '*.json'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f !== '');
  } catch {
    // No git, or not a checkout: walk instead.
  }
  if (listed.length > 0) return listed;
  const skip = new Set(['node_modules', '.git', 'dist', 'reports', 'coverage', '.stryker-tmp', 'results', '.tmp']);
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!skip.has(entry.name)) walk(join(dir, entry.name));
      } else if (/\.(ya?ml|json)$/.test(entry.name)) found.push(relative(root, join(dir, entry.name)));
    }
  };
  walk(root);
  return found;
}

describe('the fast policy reader reads what the yaml library reads', () => {
  it('on every YAML and JSON file of the repository it accepts', () => {
    const files = repositoryFiles().filter((f) => !f.endsWith('package-lock.json'));
    const accepted = files.filter((f) => expectSame(readFileSync(join(root, f), 'utf8')));
    // Most of them are read by the fast path (those that are not use block scalars or flow over lines).
    expect(accepted.length).toBeGreaterThan(files.length / 2);
  });

  it('on random edits of policy-shaped texts', () => {
    const edit = fc.record({
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      kind: fc.constantFrom('insert', 'delete', 'replace'),
      piece: fc.constantFrom(...pieces),
      length: fc.integer({ min: 1, max: 3 }),
    });
    let accepted = 0;
    fc.assert(
      fc.property(fc.constantFrom(...bases), fc.array(edit, { minLength: 1, maxLength: 4 }), (base, edits) => {
        let t = base;
        for (const e of edits) {
          const at = Math.floor(e.at * t.length);
          const cut = e.kind === 'insert' ? 0 : e.kind === 'delete' ? e.length : 1;
          t = t.slice(0, at) + (e.kind === 'delete' ? '' : e.piece) + t.slice(at + cut);
        }
        if (expectSame(t)) accepted++;
      }),
      RUNS,
    );
    // Both sides: some edits stay in the subset, others leave it.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(RUNS.numRuns);
  });
});
