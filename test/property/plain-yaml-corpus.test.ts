import { describe, expect, it } from 'vitest';
import { readPlainYaml } from '../../src/policy/plain-yaml.js';
import { disagreement } from '../support/yaml-reference.js';

/**
 * The fast policy reader (plain-yaml.ts) against the `yaml` library on a fixed corpus: every one-piece edit (an
 * insertion or a deletion) at every token boundary of a few small policy-shaped texts,
 * with pieces made of what YAML gives meaning to. No randomness: the same texts on every run, so a reader change
 * that accepts one text too many is caught every time (the random property in plain-yaml.test.ts explores further
 * but finds a given text only by luck). The contract on each text: either the fast reader gives up (null), or the
 * library sees no error and reads the same values, the same document lines and the same `List` item lines.
 */

const bases = [
  // A List with block, compact and flow items, a comment, an empty item value.
  'kind: List\nitems:\n- a: 1\n  b: [x, "y"]\n-\n  c: {d: e}\n  f:\n  - g # h\n',
  // Document markers (one with a comment), a leading comment, a null and a sequence document.
  "# c\na: ~\n--- # d\n- 'x'\n-\n---\nb:\n  c: d\n",
  // kubectl-style JSON over several lines.
  '{"kind": "List",\n "items": [{"a": [1, true]},\n  {\'b\': {}}]}\n',
  // Quoted keys, a flow mapping with an empty value, empty flow collections.
  '"a": b\n\'c\': {"d": [e, \'f\'], g: }\nh: [{}, []]\n',
  // Nested block mappings, a compact sequence under a key, a sequence on the key\'s indent, dedent.
  'a:\n  b:\n  - c: 1\n    d:\n      - e\n  f: g\nh: i\n',
];

const pieces = [
  ' ',
  ' a',
  '\n',
  '\n ',
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
  '---',
  '...',
  '%',
  '? ',
  '&a ',
  '!t ',
  '|',
  'x: y',
  '"k": ',
  '{}',
];

/**
 * Every text one edit away from `base` at a token boundary (inside a word, an edit only changes the word), with
 * no text twice.
 */
function edits(base: string): string[] {
  const out = new Set<string>();
  const word = /[A-Za-z0-9]/;
  for (let at = 0; at <= base.length; at++) {
    if (word.test(base[at - 1] ?? '') && word.test(base[at] ?? '')) continue;
    const head = base.slice(0, at);
    if (at < base.length) out.add(head + base.slice(at + 1));
    for (const piece of pieces) out.add(head + piece + base.slice(at));
  }
  return [...out];
}

describe('the fast policy reader on a fixed corpus of edited policy texts', () => {
  it.each(bases.map((b, i) => [i, b]))('base %i and every one-piece edit of it', (_, base) => {
    expect(disagreement(base)).toBeNull();
    expect(readPlainYaml(base)).not.toBeNull();
    const wrong: string[] = [];
    let accepted = 0;
    const texts = edits(base);
    for (const text of texts) {
      const why = disagreement(text);
      if (why !== null) wrong.push(`${JSON.stringify(text)}: ${why}`);
      else if (readPlainYaml(text) !== null) accepted++;
    }
    expect(wrong).toEqual([]);
    // Both sides of the give-up rules: many edits stay inside the subset, many leave it.
    expect(accepted).toBeGreaterThan(texts.length / 10);
    expect(accepted).toBeLessThan(texts.length);
  });
});
