import { describe, expect, it } from 'vitest';
import { isScalar, parseAllDocuments, Schema } from 'yaml';
import { readPlainYaml, resolvePlain } from './plain-yaml.js';

/**
 * The fast reader's scalars against the `yaml` library (the reference), deterministically: every YAML 1.2 core
 * schema form (null, bool, int, octal, hex, float, inf, nan) and its near misses, every string of up to three
 * characters over the characters those forms are made of (four over a smaller set), in every place a plain scalar
 * can stand, and every double-quoted escape. The contract (plain-yaml.ts): on a text the reader accepts, the
 * library reports no error and reads the same values; anything else the reader gives up on (null), and parse.ts
 * hands the text to the library.
 */

/** The library's values, or null when it reports an error. */
function library(text: string): unknown[] | null {
  const docs = parseAllDocuments(text);
  if (docs.some((d) => d.errors.length > 0)) return null;
  return docs.map((d) => d.toJS() as unknown).filter((v) => v !== null && v !== undefined);
}

/**
 * The library's YAML 1.2 core schema applied to one plain scalar, as its composer does (yaml/dist/compose/
 * compose-scalar.js, findScalarTagByTest: the first default tag whose test matches, else a string). Microseconds
 * instead of a parse, so that it can be asked about every short string; the batches below check it against parses.
 */
const core = new Schema({ schema: 'core' });
type ScalarTest = { default?: unknown; test?: RegExp; resolve: (s: string, e: () => void, o: object) => unknown };
function coreResolve(raw: string): unknown {
  const tag = (core.tags as ScalarTest[]).find((t) => t.default === true && t.test?.test(raw) === true);
  if (tag === undefined) return raw;
  const v = tag.resolve(raw, () => undefined, { intAsBigInt: false });
  return isScalar(v) ? v.value : v;
}

/** Deep equality that tells -0 from 0 and NaN from anything else, and keeps the order of keys. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return Object.is(a, b);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => same(v, b[i]));
  if (typeof a === 'object' && a !== null) {
    if (typeof b !== 'object' || b === null || Array.isArray(b)) return false;
    const x = a as Record<string, unknown>;
    const y = b as Record<string, unknown>;
    const keys = Object.keys(x);
    return keys.join('\0') === Object.keys(y).join('\0') && keys.every((k) => same(x[k], y[k]));
  }
  return a === b;
}

const show = (v: unknown) =>
  JSON.stringify(v, (_, x) => ((typeof x === 'number' && !Number.isFinite(x)) || Object.is(x, -0) ? `#${x}` : x));

/** The contract on one text; returns whether the fast reader accepted it. */
function agrees(text: string): boolean {
  const read = readPlainYaml(text);
  if (read === null) return false;
  const want = library(text);
  expect(want, `the reader accepts ${JSON.stringify(text)}, on which the library reports an error`).not.toBeNull();
  const got = read.docs.map((d) => d.value);
  expect(same(got, want), `${JSON.stringify(text)}: read ${show(got)}, the library reads ${show(want)}`).toBe(true);
  return true;
}

/**
 * The contract on many scalars at once, one per line or entry (`render` places scalar `i`): one text for both
 * readers, split in halves where the reader gives up or the library reports an error, down to single texts. Each
 * entry's value is compared on its own; `direct` also compares `resolvePlain(raw)` with the library's value.
 */
function agreesOnEach(
  raws: readonly string[],
  render: (raw: string, i: number) => string,
  { direct = false, json = false } = {},
): number {
  const text = json ? `{\n${raws.map(render).join(',\n')}\n}` : raws.map(render).join('\n');
  const read = readPlainYaml(text);
  const want = read === null ? null : library(text);
  if (read === null || want === null || raws.length === 1) {
    if (raws.length === 1) return agrees(text) ? 1 : 0;
    const half = raws.length >> 1;
    const opts = { direct, json };
    return agreesOnEach(raws.slice(0, half), render, opts) + agreesOnEach(raws.slice(half), render, opts);
  }
  const got = read.docs[0]?.value as Record<string, unknown>;
  const ref = want[0] as Record<string, unknown>;
  expect(Object.keys(got)).toEqual(Object.keys(ref));
  raws.forEach((raw, i) => {
    const key = Object.keys(ref)[i]!;
    const line = render(raw, i);
    expect(same(got[key], ref[key]), `${JSON.stringify(line)}: read ${show(got[key])}, library ${show(ref[key])}`).toBe(
      true,
    );
    if (direct) {
      expect(same(coreResolve(raw), ref[key]), `the reference on ${JSON.stringify(raw)}`).toBe(true);
      const r = resolvePlain(raw);
      expect(same(r, ref[key]), `resolvePlain(${JSON.stringify(raw)}) = ${show(r)}, library ${show(ref[key])}`).toBe(
        true,
      );
    }
  });
  return raws.length;
}

/** Every string of `min`..`max` characters over `alphabet`. */
function strings(alphabet: string, min: number, max: number): string[] {
  let level = [''];
  const out: string[] = [];
  for (let n = 1; n <= max; n++) {
    level = level.flatMap((s) => [...alphabet].map((c) => s + c));
    if (n >= min) for (const s of level) out.push(s);
  }
  return out;
}

/** The core schema's forms (yaml/dist/schema/core, common/null) and their near misses. */
const TOKENS = [
  ...['~', 'null', 'Null', 'NULL', 'nULL', 'NUll', 'nul', 'nulls', 'true', 'True', 'TRUE', 'tRUE', 'TRue'],
  ...['false', 'False', 'FALSE', 'fALSE', 'fals', 'yes', 'Yes', 'no', 'on', 'off', 'y', 'n'],
  ...['0', '7', '-0', '+0', '12', '-12', '+12', '007', '-007', '999999999999999999999', '1_000', '1,000'],
  ...['0o0', '0o7', '0o17', '0o8', '0o78', '0o7x', '0o', '0O7', '-0o7', '+0o7', '10o7', '00o7', '0o-7'],
  ...['0x0', '0xF', '0x1F', '0x1f', '0xff', '0XFF', '0x', '0xg', '0x1g', '0x1Fz', '-0x1', '+0x1', '10x1', '00x1'],
  ...['0x1.5', '0x-1', '0x7FFFFFFFFFFFFFFFF', '0b101'],
  ...['.inf', '.Inf', '.INF', '.iNF', '.InF', '+.inf', '-.inf', '-.Inf', '+.INF', 'inf', '-inf', '..inf', '.infx'],
  ...['1.inf', '-1.inf', '.nan', '.NaN', '.NAN', '.nAn', '.Nan', '-.nan', '+.nan', 'nan', '1.nan', '.nanx'],
  ...['1.', '1.5', '-1.5', '+1.5', '.5', '-.5', '+.5', '5.', '-5.', '.', '-.', '+.', '1..5', '1.5.', '.12', '12.5'],
  ...['1.25', '-1.25', '0.1', '00.1', '1.5x', 'x1.5', '1x.5', '1.x5'],
  ...['1e3', '1E3', '1e+3', '1e-3', '1E-3', '-1e3', '+1e3', '.5e3', '5.e3', '1.5e3', '1.25e3', '.12e3', '12e3'],
  ...['1e10', '1e', 'e3', '1e3.5', '1e+', '1e++3', '1.5e-10', '..1e3', '1x1e3', '1e3x', '-x1e3', '+.5e3', '-.5e-3'],
  ...['.e3', '1.e3', '1e400', '-1e400', '4.9e-325', '1ee3', '1e3e3', '1e-', 'e', 'E'],
  ...['~~', '~x', 'x~', '~0', '-~', '-', '--', '+', '++1', '+-1', '-+1', '1-', '1+', '1:2', '12:30:00'],
  ...['2001-12-14', '0.1.2', 'GET', '/api/*', 'cluster.local/ns/a/sa/b', '*', 'a b', 'a  b', '-a', '-1a'],
];

/** Each token, and each with a letter, a digit, a sign or a dot before or after it, in each case. */
const VARIANTS = [
  ...new Set(
    TOKENS.flatMap((t) =>
      [t, t.toUpperCase(), t.toLowerCase()].flatMap((u) => [
        u,
        ...['x', '0', '1', '-', '+', '.', '~'].flatMap((a) => [a + u, u + a]),
      ]),
    ),
  ),
];

/** What the reader cannot start a block plain scalar with (it gives up), so those are left out of batches. */
const blockPlain = (raw: string) =>
  raw !== '' && !/^(?:-(?: |$)|[?:,[\]{}#&*!|>'"%@`])/.test(raw) && !raw.includes(': ');
const flowPlain = (raw: string) => blockPlain(raw) && !/[,[\]{}]|:|#/.test(raw) && !/^-(?:[ ,\]}]|$)/.test(raw);

describe('plain scalars read as the yaml library reads them', () => {
  const alphabet = '0189.eE+-xoafFnNiI~';
  const short = strings(alphabet, 1, 2);
  const some = [...new Set([...TOKENS, ...short])];

  it('resolvePlain on every string of up to four characters over the characters numbers, nulls and bools use', () => {
    for (const raw of [...strings(alphabet, 1, 4), ...VARIANTS]) {
      const want = coreResolve(raw);
      const got = resolvePlain(raw);
      if (!same(got, want)) expect(show(got), `resolvePlain(${JSON.stringify(raw)})`).toBe(show(want));
    }
  });

  it('as block values, and resolvePlain itself (the YAML 1.2 core schema)', () => {
    const raws = some.filter(blockPlain);
    expect(agreesOnEach(raws, (raw, i) => `k${i}: ${raw}`, { direct: true })).toBe(raws.length);
    // With a comment after them, and as block sequence items.
    const few = TOKENS.filter(blockPlain);
    expect(agreesOnEach(few, (raw, i) => `k${i}: ${raw}  # c`)).toBe(few.length);
    expect(agreesOnEach(few, (raw, i) => `k${i}:\n- ${raw}\n-  ${raw} #c`)).toBe(few.length);
  });

  it('inside flow sequences and mappings, on one line and over lines (JSON)', () => {
    const raws = TOKENS.filter(flowPlain);
    expect(agreesOnEach(raws, (raw, i) => `k${i}: [${raw}, ${raw} ,${raw}]`)).toBe(raws.length);
    expect(agreesOnEach(raws, (raw, i) => `k${i}: {a: ${raw}, b: [${raw}], c: ${raw} }`)).toBe(raws.length);
    const json = { json: true };
    expect(agreesOnEach(raws, (raw, i) => `"k${i}": [\n ${raw} ,\n ${raw}\n]`, json)).toBe(raws.length);
  });

  it('as keys: a key that reads as a string is read, any other is left to the library', () => {
    const raws = some.filter(flowPlain);
    const keys = raws.filter((raw) => typeof coreResolve(raw) === 'string');
    // Keys the reader does not take (`-a`, `~x`: a dash or an indicator first) are left to the library.
    expect(agreesOnEach(keys, (raw) => `${raw}: 1`)).toBeGreaterThan(keys.length * 0.9);
    expect(agreesOnEach(keys, (raw, i) => `k${i}: {${raw}: 1}`)).toBeGreaterThan(keys.length * 0.9);
    for (const raw of ['~', 'null', 'true', 'FALSE', '0', '-1', '0o7', '0x1F', '.inf', '.NaN', '1.5', '1e3']) {
      expect(readPlainYaml(`${raw}: 1\n`), raw).toBeNull();
      expect(readPlainYaml(`k: {${raw}: 1}\n`), raw).toBeNull();
    }
  });

  it('an empty scalar is null, like the library (`k:`), and resolvePlain agrees', () => {
    expect(resolvePlain('')).toBeNull();
    expect(agrees('k:\nl: [a, ]\nm: {a: }\n')).toBe(true);
  });

  it.each([
    ['a lone dash', ['[-]', '[- a]', '[-, a]', '[a, -]', '{a: -}', '{-: a}', '[-\n]', '{"a": -\n}', '[\n-\n]']],
    ['an empty entry', ['[a,,b]', '[,a]', '{a: 1,,b: 2}', '{,}', '[,]']],
    ['an indicator at the start', ['[&a x]', '[*a]', '[!t x]', '[|]', '[>]', '[%]', '[@]', '[`]', '[?a]', '[:a]']],
    ['a comment inside', ['[a #c]', '{a: b #c}', '[a #c\n]', '{"a": b #c\n}', '[a, #c\n b]', '[a\t#c\n]']],
    ['a colon', ['[a:b]', '[a: b]', '{a:b}', '{a :b}', '{a: b:c}', '{a:b: c}', '{a: b: c}', '[a :b]', '{a:}']],
  ])('flow scalars with %s: read as the library reads them, or left to it', (_, bodies) => {
    for (const body of bodies) {
      agrees(`k: ${body}\n`);
      agrees(`${body}\n`);
      agrees(`k:\n  - ${body}\n`);
    }
  });

  it('a # is a comment only after a space, in flow as in block', () => {
    expect(agrees('k: [a#b, c]\nl: {d#: e#f}\nm: g#h\n')).toBe(true);
    expect(agrees('k: [a, b] #c\nl: x #y\n')).toBe(true);
  });
});

describe('quoted scalars read as the yaml library reads them', () => {
  /** Each text that starts or ends a quoted scalar around `inner`, in each place one can stand. */
  const places = (inner: string) => [
    `k: "${inner}"`,
    `k: "${inner}" # c`,
    `k: "${inner}z"`,
    `k: "${inner}" x"`,
    `k: "${inner}  x"`,
    `k: ["${inner}", "x"]`,
    `k: {"${inner}": "x", y: "${inner}"}`,
    `"${inner}": 1`,
    `["${inner}"\n]`,
  ];

  it('every escape: the ones YAML defines are read as it defines them, any other is left to the library', () => {
    const chars = [...strings(' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`', 1, 1)];
    chars.push(...strings('abcdefghijklmnopqrstuvwxyz{|}~é\u00a0', 1, 1));
    const read = new Set<string>();
    for (const c of chars) {
      for (const text of places(`a\\${c}b`)) if (agrees(text)) read.add(c);
    }
    for (const text of ['k: "a\\"', 'k: "\\', 'k: "a\\\\"', 'k: "\\\\\\""', 'k: ["\\"", "\\\\"]']) agrees(text);
    // What JSON writers (kubectl -o json) escape is read by the fast path.
    for (const c of ['"', '\\', '/', 'b', 'f', 'n', 'r', 't']) expect(read.has(c), c).toBe(true);
  });

  it('\\u with four hex digits, and every shorter, longer or broken form', () => {
    const tails = strings('0aFg" ', 0, 4).map((s) => `\\u${s}`);
    tails.push(...['\\u0aF0a', '\\u0000"', '\\u00e9 x', '\\u12" x']);
    tails.push(...['\\x41', '\\x4', '\\xg1', '\\U0001F600', '\\U0001F6', '\\u00e9\\u00E9', '\\uD83D\\uDE00']);
    for (const tail of tails) for (const text of places(tail).filter((_, i) => i % 2 === 0)) agrees(text);
    expect(agrees('k: "\\u00e9\\u00Ff\\u0041"\n')).toBe(true);
    expect(agrees('k: ["\\u12", "x"]\n')).toBe(false);
  });

  it("single quotes: '' is a quote, nothing else escapes", () => {
    const texts = ["k: 'it''s'", "k: ''''", "k: ''", "k: '' # c", "k: 'a'b'", "k: 'a' # c", "k: 'a'#c", "k: 'a''"];
    texts.push(...["k: 'a", "k: '\\n'", "k: '\"'", "k: ['a''b', 'c']", "'a''b': 1", "k: {'a': 'b''', c: 'd'}"]);
    texts.push(...["k: 'a' x'", "k: ['a'b']", "k: ''''''", "['a',\n 'b']"]);
    for (const text of texts) agrees(text);
    expect(agrees("k: 'it''s'\nl: ['a''b', '']\n")).toBe(true);
  });
});

describe('the shapes of real policies are read by the fast path (load speed, issue 18)', () => {
  it('flow mappings with plain keys, escapes and numbers', () => {
    // Shapes from the repository's istio/examples/orders-allow-frontend.yaml and istio/authorization-policy.yaml.
    const text = [
      'spec:',
      '  selector:',
      '    matchLabels: { app: orders }',
      '  rules:',
      '    - from:',
      '        - source: { principals: [cluster.local/ns/shop/sa/frontend] }',
      '      to:',
      '        - operation: { methods: [GET], paths: ["/orders/{*}", /orders], ports: ["9191", 8080] }',
      '      when:',
      '        - { key: "request.headers[x-q]", values: ["a\\"b\\\\c\\/d\\u00e9\\n"] }',
      '',
    ].join('\n');
    expect(agrees(text)).toBe(true);
  });
});
