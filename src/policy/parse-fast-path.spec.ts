import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as yaml from 'yaml';
import { parsePolicyText } from './parse.js';

/**
 * Which reader loads a file. A policy file in the fast reader's subset loads without the `yaml` library's syntax
 * tree (load speed, issue 18: the tree costs about 10x the fast read); a text outside the subset, a file with any
 * issue (an issue needs its field's line) and a list item without a line of its own go to the library. Field lines
 * (lint, explain) parse the file once, on first use. The library is only wrapped here to count its parses: it
 * still does the work.
 */
vi.mock('yaml', async (importOriginal) => {
  const actual = await importOriginal<typeof import('yaml')>();
  return { ...actual, parseAllDocuments: vi.fn(actual.parseAllDocuments) };
});
const parses = vi.mocked(yaml.parseAllDocuments);
beforeEach(() => {
  parses.mockClear();
});

const ap = (name: string, action = 'DENY') =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ${name}\n  namespace: foo\n` +
  `spec:\n  selector:\n    matchLabels: { app: orders }\n  action: ${action}\n  rules:\n` +
  '  - from:\n    - source: { principals: [cluster.local/ns/shop/sa/frontend] }\n' +
  '    to:\n    - operation: { methods: [GET], paths: ["/orders/{*}", /orders] }\n';
const indent = (text: string) => text.trimEnd().replace(/\n/g, '\n  ');

describe('the fast path loads policy files without the yaml library', () => {
  it('documents, other kinds (a note), a List and an AuthorizationPolicyList; field lines parse once, on use', () => {
    const text = [
      ap('a'),
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n',
      `apiVersion: v1\nkind: List\nitems:\n- ${indent(ap('b'))}\n`,
      `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicyList\nitems:\n- ${indent(ap('c').split('\n').slice(2).join('\n'))}\n`,
    ].join('---\n');
    const out = parsePolicyText(text, 'f.yaml');
    expect(out.issues).toEqual([]);
    expect(out.notes).toEqual(["f.yaml:16: skipped Service 's' (not an AuthorizationPolicy)"]);
    expect(out.policies.map((p) => [p.policy.metadata.name, p.source.line])).toEqual([
      ['a', 1],
      ['b', 24],
      ['c', 42],
    ]);
    expect(parses).not.toHaveBeenCalled();
    expect(out.policies[1]?.lines).toMatchObject({ 'spec.rules[0].to[0].operation.paths': 37 });
    expect(out.policies[2]?.lines).toMatchObject({ metadata: 42, 'spec.action': 48 });
    expect(parses).toHaveBeenCalledTimes(1);
  });
});

describe('the yaml library reads what the fast path leaves', () => {
  it('a file with an issue, at its field line', () => {
    const out = parsePolicyText(ap('a', 'PERMIT'), 'f.yaml');
    expect(out.issues.map((i) => [i.code, i.path, i.line])).toEqual([['invalid_action', 'spec.action', 9]]);
    expect(parses).toHaveBeenCalledTimes(1);
  });

  it('a List item that is not a mapping, noted at its own line', () => {
    const out = parsePolicyText(`apiVersion: v1\nkind: List\nitems:\n- ${indent(ap('a'))}\n- text\n`, 'f.yaml');
    expect(out.policies.map((p) => p.policy.metadata.name)).toEqual(['a']);
    expect(out.notes).toEqual(['f.yaml:18: skipped a document without kind (not an AuthorizationPolicy)']);
    expect(parses).toHaveBeenCalledTimes(1);
  });

  it('a text outside the subset (CRLF line ends)', () => {
    const out = parsePolicyText(ap('a').replace(/\n/g, '\r\n'), 'f.yaml');
    expect(out.policies.map((p) => [p.policy.metadata.name, p.source.line])).toEqual([['a', 1]]);
    expect(parses).toHaveBeenCalledTimes(1);
  });
});
