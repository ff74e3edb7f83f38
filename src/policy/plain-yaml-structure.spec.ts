import { describe, expect, it } from 'vitest';
import { disagreement, yamlReference } from '../../test/support/yaml-reference.js';
import { parsePolicyText } from './parse.js';
import { readPlainYaml } from './plain-yaml.js';

/**
 * The structure rules of the fast policy reader (plain-yaml.ts: documents, block mappings and sequences, flow
 * collections, keys, comments), each from both sides: a text just inside the subset is read, and read as the `yaml`
 * library reads it; a text just outside is left to the library (null), and the test says why (the library reports
 * an error, or reads it differently).
 */

/** Read by the fast path, and the same values and lines as the library. */
function expectRead(text: string): void {
  expect(readPlainYaml(text), text).not.toBeNull();
  expect(disagreement(text), text).toBeNull();
}

/** Left to the library; `libraryErrs` says whether the library reports an error on it. */
function expectLeft(text: string, libraryErrs: boolean): void {
  expect(readPlainYaml(text), text).toBeNull();
  expect(yamlReference(text).errors.length > 0, text).toBe(libraryErrs);
}

describe('the fast path reads the policy shapes the load figures rely on (docs/benchmarks.md)', () => {
  it.each([
    ['quoted values', `principal: "cluster.local/ns/a/sa/b"\nname: 'it''s'\n`],
    ['a comment after a key whose value is below', 'rules: # who may call\n- from: []\n'],
    ['a comment after a dash whose item is below', '- # the first rule\n  to: []\n'],
    ['an empty value followed by the next key', 'selector:\naction: DENY\n'],
    ['a scalar on the line below its key or dash', `a:\n  b\nc:\n-\n  'd'\n`],
    ['`---` separators with comments', '--- # first\na: 1\n--- # second\nb: 2\n'],
    ['a document that starts below a comment', '# lead\na: 1\n'],
    ['comments after flow lists and quoted values', `a: ["x", y] # c\nb: 'z' # c\n`],
    ['a JSON array over many lines', '[\n  {"a": 1},\n  {"b": 2}\n]\n'],
    ["compact JSON (no space after a quoted key's colon)", '{"kind":"List","items":[{"a":1,"b":["x"]}]}\n'],
    ['a plain key ending its line in a flow mapping over many lines', '{\n  a:\n    1,\n  b: [x]\n}\n'],
    ['comments inside a flow collection over many lines', '{\n# c\n  "a": [1, # c\n    2]\n}\n'],
    ['a flow mapping entry without a value', '{a: , b: 1, c: }\n'],
    ['a quoted key whose value is below', `"a":\n  - b\n'c':\n  d: e\n`],
    ['a `<<` key (an ordinary key in YAML 1.2, no merge)', '<<: {a: 1}\nb: {<<: 2}\n'],
    ['block keys holding flow indicators or #', 'a[0]: x\nb,c: y\nd{e}: z\nf#g: h\n'],
  ])('%s', (_, text) => expectRead(text));
});

describe('each give-up rule of the structure reader, both sides', () => {
  const MAX = 64;
  const deep: Record<string, (levels: number) => string> = {
    'block mappings': (n) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}a:\n`).join(''),
    'block sequences': (n) =>
      `${Array.from({ length: n - 1 }, (_, i) => `${' '.repeat(2 * i)}-\n`).join('')}${' '.repeat(2 * n - 2)}- x\n`,
    // `- a:` is two levels (the sequence and its mapping item).
    'sequences of compact mappings': (n) =>
      Array.from({ length: Math.floor(n / 2) }, (_, i) => `${' '.repeat(2 * i)}- a:\n`).join('') +
      (n % 2 === 1 ? `${' '.repeat(n - 1)}- x\n` : ''),
    'a flow sequence in a block item': (n) => `- ${'['.repeat(n - 1)}${']'.repeat(n - 1)}\n`,
    'flow sequences': (n) => `${'['.repeat(n)}${']'.repeat(n)}\n`,
    'flow mappings': (n) => `${'{a: '.repeat(n - 1)}{}${'}'.repeat(n - 1)}\n`,
  };
  it.each(Object.keys(deep))(`reads ${MAX + 1} levels of %s and leaves ${MAX + 2} to the library`, (kind) => {
    const make = deep[kind]!;
    expectRead(make(MAX + 1));
    expectLeft(make(MAX + 2), false);
  });

  // How deep the library gets before it reports an error depends on the stack it runs on (about 700 to 1000 levels
  // on node's default stack), so these say what the fast path does, whatever the library makes of the text.
  it('leaves a thousand nested levels to the library (the fast path used to read them; the library may report an error)', () => {
    expect(readPlainYaml(`${'['.repeat(1000)}${']'.repeat(1000)}\n`)).toBeNull();
    expect(readPlainYaml(`${'{a: '.repeat(1000)}1${'}'.repeat(1000)}\n`)).toBeNull();
  });

  it('does not throw on deep nesting (the fast reader used to overflow its stack out of parsePolicyText)', () => {
    const text = `${'{a: '.repeat(5000)}1${'}'.repeat(5000)}\n`;
    expect(readPlainYaml(text)).toBeNull();
    expect(() => parsePolicyText(text, 'deep.yaml')).not.toThrow();
  });

  it('reads a key of 1000 characters; leaves a longer one to the library (which stops at 1024)', () => {
    expectRead(`a:\n  ${'k'.repeat(1000)}: 1\n`);
    expectLeft(`a:\n  ${'k'.repeat(1025)}: 1\n`, true);
  });

  it('reads a compact sequence at its key column; a dash elsewhere on a shallower line is an error', () => {
    expectRead('a:\n  c:\n  - y\n');
    expectLeft('a:\n  b:\n    c:\n  x - y\n', true);
  });

  it('reads a flow collection on the line below its key; over lines it is left to the library', () => {
    expectRead('a:\n  [1, 2]\n');
    expectLeft('a:\n  [1,\n  2]\n', false); // read by the library, outside the subset
    expectLeft('a:\n  [1,\n2]\n', true); // its lines must be indented under the key
  });

  it('reads a `...` value; a line starting `... ` ends the document (left to the library)', () => {
    expectRead('a: ...\n');
    expectLeft('a: 1\n... : x\n', true);
  });

  it('leaves out empty documents; gives up on a document that is only a null', () => {
    expectRead('a: 1\n---\n# nothing here\n');
    expectLeft('a: 1\n---\n~\n', false); // the library leaves it out; the reader leaves it to the library
  });

  it('reads a comment after a value only with a space before its #', () => {
    expectRead(`- 'x' # c\n- [y] # c\n`);
    expectLeft(`- 'x'#c\n`, true);
    expectLeft('- [y]#c\n', true);
    expectLeft(`- 'x' y\n`, true);
    expectLeft('[\n  "a"#c\n]\n', true);
    expectLeft('[\n  "a"# c\n]\n', true);
    expectLeft('[1,#c\n  2]\n', true);
  });

  it('leaves a __proto__ key in a flow mapping to the library (assigning it would set the prototype)', () => {
    expectRead('{proto: {a: 1}}\n');
    expectLeft('{__proto__: {a: 1}}\n', false);
  });

  it('reads lists and scalars that look alike exactly (-0 and 0, NaN and null are not shared)', () => {
    expectRead(
      'a: 0\nb: -0\nc:\n  d:\n    e: [null, x]\n    f: [.nan, x]\n    g: [0, x]\n    h: [-0, x]\n    i: [0]\n    j: [-0]\n',
    );
  });

  it('gives the line of each List item that is a sequence (flow or block)', () => {
    expectRead('kind: List\nitems:\n- [a]\n- [b, c]\n-\n  - d\n  - e\n');
  });
});
