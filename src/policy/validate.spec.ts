import { describe, expect, it } from 'vitest';
import { parsePolicyText } from './parse.js';
import { validatePolicy } from './validate.js';

function issuesOf(yaml: string) {
  return parsePolicyText(yaml, 'p.yaml').issues;
}

const head =
  'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  namespace: foo\nspec:\n';

describe('validatePolicy (istiod webhook + CRD schema)', () => {
  const rejected: [string, string, string, string][] = [
    // [description, spec body, expected code, expected path]
    ['unknown action', '  action: PERMIT\n', 'invalid_action', 'spec.action'],
    ['DENY without rules', '  action: DENY\n', 'missing_rules', 'spec'],
    ['CUSTOM without provider', '  action: CUSTOM\n  rules:\n  - {}\n', 'invalid_provider', 'spec.action'],
    [
      'provider without CUSTOM',
      '  action: ALLOW\n  provider:\n    name: x\n  rules:\n  - {}\n',
      'invalid_provider',
      'spec.provider',
    ],
    [
      'CUSTOM with principals',
      '  action: CUSTOM\n  provider:\n    name: x\n  rules:\n  - from:\n    - source:\n        principals: ["a"]\n',
      'custom_identity_field',
      'spec.rules[0].from[0].source.principals',
    ],
    [
      'CUSTOM with request.auth.claims',
      '  action: CUSTOM\n  provider:\n    name: x\n  rules:\n  - when:\n    - key: request.auth.claims[a]\n      values: ["b"]\n',
      'custom_identity_field',
      'spec.rules[0].when[0].key',
    ],
    ['empty from', '  rules:\n  - from: []\n', 'empty_value', 'spec.rules[0].from'],
    ['empty source', '  rules:\n  - from:\n    - source: {}\n', 'empty_value', 'spec.rules[0].from[0].source'],
    [
      'empty string value',
      '  rules:\n  - to:\n    - operation:\n        paths: ["/a", ""]\n',
      'empty_value',
      'spec.rules[0].to[0].operation.paths[1]',
    ],
    [
      'bad CIDR',
      '  rules:\n  - from:\n    - source:\n        ipBlocks: ["10.0.0.0/33"]\n',
      'invalid_ip',
      'spec.rules[0].from[0].source.ipBlocks[0]',
    ],
    [
      'bad port',
      '  rules:\n  - to:\n    - operation:\n        ports: ["70000"]\n',
      'invalid_port',
      'spec.rules[0].to[0].operation.ports[0]',
    ],
    [
      '{**} followed by another operator',
      '  rules:\n  - to:\n    - operation:\n        paths: ["/a/{**}/{*}"]\n',
      'invalid_path_template',
      'spec.rules[0].to[0].operation.paths[0]',
    ],
    [
      '{*} inside a segment',
      '  rules:\n  - to:\n    - operation:\n        paths: ["/a/x{*}"]\n',
      'invalid_path_template',
      'spec.rules[0].to[0].operation.paths[0]',
    ],
    [
      'unknown when key',
      '  rules:\n  - when:\n    - key: request.method\n      values: ["GET"]\n',
      'invalid_condition',
      'spec.rules[0].when[0].key',
    ],
    [
      'destination.labels key',
      '  rules:\n  - when:\n    - key: destination.labels[app]\n      values: ["x"]\n',
      'invalid_condition',
      'spec.rules[0].when[0].key',
    ],
    ['when without values', '  rules:\n  - when:\n    - key: source.ip\n', 'missing_field', 'spec.rules[0].when[0]'],
    [
      'unknown source field (typo)',
      '  rules:\n  - from:\n    - source:\n        principal: ["a"]\n',
      'unknown_field',
      'spec.rules[0].from[0].source.principal',
    ],
    [
      'serviceAccounts with principals',
      '  rules:\n  - from:\n    - source:\n        serviceAccounts: ["a/b"]\n        principals: ["x"]\n',
      'invalid_value',
      'spec.rules[0].from[0].source',
    ],
    [
      'selector and targetRef',
      '  selector:\n    matchLabels:\n      app: a\n  targetRef:\n    kind: Gateway\n    name: g\n',
      'invalid_selector',
      'spec.targetRef',
    ],
    [
      'selector value too long',
      `  selector:\n    matchLabels:\n      app: ${'a'.repeat(64)}\n`,
      'invalid_selector',
      'spec.selector.matchLabels.app',
    ],
  ];
  for (const [what, body, code, path] of rejected) {
    it(`rejects ${what}`, () => {
      const issues = issuesOf(head + body).filter((i) => i.severity === 'error');
      expect(issues.map((i) => [i.code, i.path])).toContainEqual([code, path]);
    });
  }

  it('rejects more than 16 serviceAccounts and more than 512 rules', () => {
    const sas = Array.from({ length: 17 }, (_, i) => `"ns/sa${i}"`).join(', ');
    expect(
      issuesOf(`${head}  rules:\n  - from:\n    - source:\n        serviceAccounts: [${sas}]\n`).map((i) => i.code),
    ).toContain('limit_exceeded');
    const rules = Array.from({ length: 513 }, () => '  - {}').join('\n');
    expect(issuesOf(`${head}  rules:\n${rules}\n`).map((i) => i.code)).toContain('limit_exceeded');
  });

  it('accepts the documented examples', () => {
    const body =
      '  selector:\n    matchLabels:\n      app: httpbin\n  action: ALLOW\n  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/default/sa/sleep"]\n    - source:\n        namespaces: ["dev"]\n    to:\n    - operation:\n        methods: ["GET"]\n        paths: ["/info*", "/users/{*}/x", "/files/{**}"]\n    when:\n    - key: request.auth.claims[iss]\n      values: ["https://accounts.google.com"]\n    - key: request.headers[x-token]\n      notValues: ["bad"]\n';
    expect(issuesOf(head + body)).toEqual([]);
  });

  it('reports the line of the offending field', () => {
    const yaml = `${head}  rules:\n  - to:\n    - operation:\n        ports: ["x"]\n`;
    const issue = issuesOf(yaml).find((i) => i.code === 'invalid_port');
    expect(issue?.line).toBe(10);
    expect(issue?.file).toBe('p.yaml');
  });

  it('validatePolicy works on plain objects (for the reconciler) with the given source', () => {
    const issues = validatePolicy(
      {
        apiVersion: 'security.istio.io/v1beta1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'x', namespace: 'y' },
        spec: { action: 'DENY' },
      },
      { file: 'gen', line: 3 },
    );
    expect(issues).toMatchObject([{ code: 'missing_rules', file: 'gen', line: 3 }]);
    expect(validatePolicy(null, null)[0]?.code).toBe('schema');
  });

  it('rejects a bad dry-run annotation and warns when it is on AUDIT', () => {
    const bad =
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  namespace: foo\n  annotations:\n    istio.io/dry-run: "yes"\nspec: {}\n';
    expect(issuesOf(bad).map((i) => i.code)).toContain('invalid_annotation');
  });
});
