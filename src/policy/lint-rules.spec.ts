import { describe, expect, it } from 'vitest';
import { policy } from '../../test/conformance/policy-fixtures.js';
import { type LintOptions, lintPolicies } from './lint.js';
import { parsePolicyText } from './parse.js';
import type { WorkloadRef } from './types.js';

/**
 * Each lint warning stated both ways: the policy it warns about (with the path and the words an operator reads) and
 * the nearest policy it must stay quiet about. A warning that fires on a good policy trains operators to ignore it;
 * one that stays quiet leaves the dangerous policy in place.
 */

function issues(yaml: string, options: LintOptions = {}) {
  return lintPolicies(parsePolicyText(yaml, 'l.yaml').policies, options);
}
const codes = (yaml: string, options: LintOptions = {}) => issues(yaml, options).map((i) => [i.code, i.path]);
const rules = (action: string, body: string) => policy(action, `  rules:\n${body}`);

describe('allow_all', () => {
  it('an empty ALLOW rule allows everything; an empty DENY rule or a rule with any part does not warn', () => {
    expect(issues(rules('ALLOW', '  - {}'))).toEqual([
      {
        severity: 'warning',
        file: 'l.yaml',
        line: expect.any(Number),
        path: 'spec.rules[0]',
        code: 'allow_all',
        message: 'this ALLOW rule is empty: it allows every request from anywhere',
      },
    ]);
    expect(codes(rules('DENY', '  - {}'))).toEqual([]);
    expect(codes(policy('ALLOW', ''))).toEqual([]);
    expect(codes(rules('AUDIT', '  - {}'))).toEqual([]);
    expect(codes(rules('ALLOW', '  - from:\n    - source:\n        namespaces: ["a"]'))).toEqual([]);
    expect(codes(rules('ALLOW', '  - to:\n    - operation:\n        methods: ["GET"]'))).toEqual([]);
    expect(codes(rules('ALLOW', '  - when:\n    - key: request.headers[x]\n      values: ["y"]'))).toEqual([]);
  });
});

describe('spiffe_prefix', () => {
  it('principals and notPrincipals written with spiffe:// never match; each value is named', () => {
    const out = issues(
      rules(
        'DENY',
        '  - from:\n    - source:\n        notPrincipals: ["cluster.local/ns/a/sa/a", "spiffe://cluster.local/ns/a/sa/b"]',
      ),
    );
    expect(out.map((i) => [i.code, i.path, i.message])).toEqual([
      [
        'spiffe_prefix',
        'spec.rules[0].from[0].source.notPrincipals[1]',
        "'spiffe://cluster.local/ns/a/sa/b' never matches: Istio adds spiffe:// itself; write 'cluster.local/ns/a/sa/b'",
      ],
    ]);
    expect(codes(rules('DENY', '  - from:\n    - source:\n        principals: ["cluster.local/ns/a/sa/b"]'))).toEqual(
      [],
    );
  });

  it('a source.principal condition with spiffe:// in values or notValues; other keys are not principals', () => {
    const when = (key: string, field: string) =>
      codes(rules('DENY', `  - when:\n    - key: ${key}\n      ${field}: ["spiffe://cluster.local/ns/a/sa/b"]`));
    expect(when('source.principal', 'values')).toEqual([['spiffe_prefix', 'spec.rules[0].when[0]']]);
    expect(
      issues(rules('DENY', '  - when:\n    - key: source.principal\n      values: ["spiffe://td/ns/a/sa/b"]'))[0]
        ?.message,
    ).toBe("'spiffe://td/ns/a/sa/b' never matches: drop spiffe://");
    expect(when('source.principal', 'notValues')).toEqual([['spiffe_prefix', 'spec.rules[0].when[0]']]);
    expect(when('request.headers[x-spiffe]', 'values')).toEqual([]);
    expect(
      codes(rules('DENY', '  - when:\n    - key: source.principal\n      values: ["cluster.local/ns/a/sa/b"]')),
    ).toEqual([]);
  });
});

describe('http_fields_on_tcp', () => {
  const op = (action: string, fields: string) => issues(rules(action, `  - to:\n    - operation:\n${fields}`));

  it('ALLOW: the rule never allows TCP traffic; DENY: it matches more than it says', () => {
    const allow = op('ALLOW', '        ports: ["8080", "5432"]\n        paths: ["/a"]\n        notMethods: ["PUT"]');
    expect(allow.map((i) => [i.code, i.path, i.message])).toEqual([
      [
        'http_fields_on_tcp',
        'spec.rules[0].to[0].operation',
        'port(s) 5432 carry TCP, and notMethods, paths are HTTP-only: for TCP traffic Istio drops an ALLOW rule with HTTP-only fields, so it never allows anything there',
      ],
    ]);
    const deny = op('DENY', '        ports: ["6379", "22"]\n        hosts: ["a.com:*"]');
    expect(deny.map((i) => i.message)).toEqual([
      'port(s) 6379, 22 carry TCP, and hosts are HTTP-only: for TCP traffic Istio ignores the HTTP-only fields, so this rule matches more than it says',
    ]);
  });

  it('quiet for an HTTP port with HTTP fields, and for a TCP port without them', () => {
    expect(op('ALLOW', '        ports: ["8080"]\n        methods: ["GET"]').map((i) => i.code)).toEqual([]);
    expect(op('ALLOW', '        ports: ["3306"]').map((i) => i.code)).toEqual([]);
  });
});

describe('path_bypass', () => {
  const paths = (action: string, field: string, mode: LintOptions['pathNormalization']) =>
    issues(rules(action, `  - to:\n    - operation:\n        ${field}: ["/admin"]`), { pathNormalization: mode });

  it('names the variants that slip past each normalization', () => {
    const message = (mode: LintOptions['pathNormalization']) => paths('DENY', 'paths', mode)[0]?.message;
    expect(message('NONE')).toBe(
      "DENY with paths under path normalization NONE can be bypassed with variants such as '/public/../admin' and '%2e%2e'; use DECODE_AND_MERGE_SLASHES or write ALLOW rules with positive paths",
    );
    expect(message('BASE')).toContain("variants such as '//admin' and '/admin%2F..';");
    expect(message('MERGE_SLASHES')).toContain("variants such as '/admin%2F..' (encoded slashes);");
  });

  it('DENY paths and notPaths, ALLOW notPaths always, ALLOW paths only without normalization', () => {
    for (const mode of ['NONE', 'BASE', 'MERGE_SLASHES'] as const) {
      expect(paths('DENY', 'paths', mode).map((i) => [i.code, i.path])).toEqual([
        ['path_bypass', 'spec.rules[0].to[0].operation.paths'],
      ]);
      expect(paths('DENY', 'notPaths', mode).map((i) => i.path)).toEqual(['spec.rules[0].to[0].operation.notPaths']);
      expect(paths('ALLOW', 'notPaths', mode).map((i) => i.path)).toEqual(['spec.rules[0].to[0].operation.notPaths']);
    }
    expect(paths('ALLOW', 'paths', 'NONE').map((i) => i.path)).toEqual(['spec.rules[0].to[0].operation.paths']);
    expect(paths('ALLOW', 'paths', 'BASE')).toEqual([]);
    expect(paths('ALLOW', 'paths', 'MERGE_SLASHES')).toEqual([]);
    expect(paths('AUDIT', 'paths', 'NONE')).toEqual([]);
  });

  it('quiet under DECODE_AND_MERGE_SLASHES; BASE (Istio’s default) when none is given', () => {
    expect(paths('DENY', 'paths', 'DECODE_AND_MERGE_SLASHES')).toEqual([]);
    expect(paths('DENY', 'notPaths', 'DECODE_AND_MERGE_SLASHES')).toEqual([]);
    expect(paths('DENY', 'paths', undefined)[0]?.message).toContain('under path normalization BASE');
  });
});

describe('host_without_port', () => {
  const hosts = (field: string, values: string) =>
    issues(rules('DENY', `  - to:\n    - operation:\n        ${field}: [${values}]`));

  it('a host without its :port form is named with the fix', () => {
    expect(hosts('notHosts', '"b.com", "a.com"').map((i) => [i.path, i.message])).toEqual([
      [
        'spec.rules[0].to[0].operation.notHosts[0]',
        "'b.com' does not match 'b.com:<port>' (the port is not stripped); add 'b.com:*' or the port variant",
      ],
      [
        'spec.rules[0].to[0].operation.notHosts[1]',
        "'a.com' does not match 'a.com:<port>' (the port is not stripped); add 'a.com:*' or the port variant",
      ],
    ]);
  });

  it('quiet for a host with a port, a trailing wildcard, *, or a port variant listed beside it (any case)', () => {
    expect(hosts('hosts', '"a.com:8080"')).toEqual([]);
    expect(hosts('hosts', '"a.*"')).toEqual([]);
    expect(hosts('hosts', '"*"')).toEqual([]);
    expect(hosts('hosts', '"A.com", "a.com:443"')).toEqual([]);
    expect(hosts('hosts', '"a.com", "b.com:443"').map((i) => i.path)).toEqual([
      'spec.rules[0].to[0].operation.hosts[0]',
    ]);
  });
});

describe('shadowed_rule', () => {
  const shadowed = (body: string) => codes(rules('DENY', body)).filter(([code]) => code === 'shadowed_rule');
  const src = (fields: string) => `  - from:\n    - source:\n${fields}`;

  it('a later rule whose every request an earlier rule matches is dead; the first earlier one is named', () => {
    const out = issues(rules('DENY', `${src('        namespaces: ["*"]')}\n${src('        namespaces: ["a"]')}`));
    expect(out.map((i) => [i.code, i.path, i.message])).toEqual([
      ['shadowed_rule', 'spec.rules[1]', 'rule 1 is dead: rule 0 already matches every request it matches'],
    ]);
    expect(shadowed(`  - {}\n  - {}\n${src('        namespaces: ["a"]')}`)).toEqual([
      ['shadowed_rule', 'spec.rules[1]'],
      ['shadowed_rule', 'spec.rules[2]'],
    ]);
  });

  it('values: the earlier list must hold every later value', () => {
    expect(shadowed(`${src('        namespaces: ["a"]')}\n${src('        namespaces: ["a", "b"]')}`)).toEqual([]);
    expect(shadowed(`${src('        namespaces: ["a", "b"]')}\n${src('        namespaces: ["b"]')}`)).toHaveLength(1);
  });

  it('not-values: the later list must exclude everything the earlier one excludes', () => {
    const earlier = src('        notNamespaces: ["a"]');
    expect(shadowed(`${earlier}\n${src('        notNamespaces: ["a", "b"]')}`)).toHaveLength(1);
    expect(shadowed(`${earlier}\n${src('        notNamespaces: ["b"]')}`)).toEqual([]);
    // An earlier rule excluding a and b does not match a request from a; a later one excluding only b does.
    const both = src('        notNamespaces: ["a", "b"]');
    expect(shadowed(`${both}\n${src('        notNamespaces: ["b"]')}`)).toEqual([]);
    expect(shadowed(`${both}\n${src('        notNamespaces: ["b", "c", "a"]')}`)).toHaveLength(1);
    expect(shadowed(`${earlier}\n${src('        namespaces: ["b"]')}`)).toEqual([]);
  });

  it('a field the earlier rule constrains must be constrained in the later one; extra constraints are fine', () => {
    const earlier = src('        namespaces: ["a"]');
    expect(shadowed(`${earlier}\n${src('        principals: ["x/y"]')}`)).toEqual([]);
    expect(shadowed(`${earlier}\n${src('        namespaces: ["a"]\n        principals: ["x/y"]')}`)).toHaveLength(1);
    expect(shadowed(`${earlier}\n  - to:\n    - operation:\n        methods: ["GET"]`)).toEqual([]);
  });

  it('`to` entries are compared the same way: operations the earlier rule allows for every later one', () => {
    const op = (fields: string) => `  - to:\n    - operation:\n${fields}`;
    const earlier = op('        methods: ["GET", "POST"]');
    expect(shadowed(`${earlier}\n${op('        methods: ["GET"]\n        paths: ["/a"]')}`)).toHaveLength(1);
    expect(shadowed(`${earlier}\n${op('        methods: ["PUT"]')}`)).toEqual([]);
    expect(shadowed(`${earlier}\n${op('        paths: ["/a"]')}`)).toEqual([]);
    expect(shadowed(`${earlier}\n${src('        namespaces: ["a"]')}`)).toEqual([]);
  });

  it('every later `from` entry must be covered by some earlier entry', () => {
    const earlier = `${src('        namespaces: ["a"]')}\n    - source:\n        namespaces: ["b"]`;
    const later = `${src('        namespaces: ["b"]')}\n    - source:\n        namespaces: ["a"]`;
    expect(shadowed(`${earlier}\n${later}`)).toHaveLength(1);
    expect(shadowed(`${earlier}\n${later}\n    - source:\n        namespaces: ["c"]`)).toEqual([]);
  });

  it('conditions: the earlier rule’s conditions must all be in the later rule', () => {
    const cond = (v: string) => `    - key: request.headers[x]\n      values: ["${v}"]`;
    expect(shadowed(`  - when:\n${cond('1')}\n  - when:\n${cond('1')}\n${cond('2')}`)).toHaveLength(1);
    expect(shadowed(`  - when:\n${cond('1')}\n${cond('2')}\n  - when:\n${cond('1')}`)).toEqual([]);
    expect(shadowed(`  - when:\n${cond('1')}\n  - when:\n${cond('2')}`)).toEqual([]);
  });
});

describe('with a workload list', () => {
  const workloads: WorkloadRef[] = [
    { namespace: 'foo', labels: { app: 'httpbin' } },
    { namespace: 'bar', labels: { app: 'db', tier: 'data' } },
  ];
  const selecting = (namespace: string, labels: string) =>
    policy(
      'ALLOW',
      `  selector:\n    matchLabels:\n${labels}\n  rules:\n  - from:\n    - source:\n        namespaces: ["x"]`,
      {
        selector: false,
        namespace,
      },
    );

  it('a selector that matches no known workload of its namespace is reported; one that matches is not', () => {
    const nothing = (ns: string, labels: string) =>
      codes(selecting(ns, labels), { workloads }).filter(([c]) => c === 'selector_matches_nothing');
    expect(nothing('foo', '      app: httpbin')).toEqual([]);
    expect(nothing('foo', '      app: db')).toEqual([['selector_matches_nothing', 'spec.selector.matchLabels']]);
    expect(
      issues(selecting('foo', '      app: db'), { workloads }).find((i) => i.code === 'selector_matches_nothing')
        ?.message,
    ).toBe('the selector matches none of the known workloads');
    // An empty selector selects every workload of its namespace, known or not: nothing to report.
    expect(codes(selecting('empty', '      {}'), { workloads })).not.toContainEqual([
      'selector_matches_nothing',
      'spec.selector.matchLabels',
    ]);
    expect(nothing('bar', '      app: db\n      tier: web')).toHaveLength(1);
    expect(nothing('bar', '      app: db\n      tier: data')).toEqual([]);
    // The root namespace's policies select workloads in every namespace.
    expect(nothing('istio-system', '      app: db')).toEqual([]);
    expect(codes(selecting('mesh', '      app: db'), { workloads, rootNamespace: 'mesh' })).not.toContainEqual([
      'selector_matches_nothing',
      'spec.selector.matchLabels',
    ]);
    expect(nothing('mesh', '      app: db')).toHaveLength(1);
  });

  it('uncovered workloads are named with the workload file; covered ones are not; no list, no report', () => {
    const yaml = selecting('foo', '      app: httpbin');
    const uncovered = issues(yaml, { workloads, workloadsFile: 'w.yaml' }).filter(
      (i) => i.code === 'uncovered_workload',
    );
    expect(uncovered).toEqual([
      {
        severity: 'warning',
        file: 'w.yaml',
        line: 0,
        path: '',
        code: 'uncovered_workload',
        message: 'workload bar{app=db,tier=data} is not covered by any enforced ALLOW policy: it accepts every request',
      },
    ]);
    expect(issues(yaml, { workloads }).find((i) => i.code === 'uncovered_workload')?.file).toBe('(workloads)');
    expect(codes(yaml, { workloads: [] })).toEqual([]);
    expect(codes(yaml)).toEqual([]);
  });

  it("a workload covered only by the root namespace's ALLOW is covered (the configured root)", () => {
    const rootAllow = policy('ALLOW', '  rules:\n  - from:\n    - source:\n        namespaces: ["x"]', {
      selector: false,
      namespace: 'mesh',
    });
    const uncovered = (rootNamespace?: string) =>
      issues(rootAllow, { workloads, rootNamespace }).filter((i) => i.code === 'uncovered_workload');
    expect(uncovered('mesh')).toEqual([]);
    expect(uncovered()).toHaveLength(2);
  });
});

describe('service_account_any_trust_domain: the message names the values and the fix', () => {
  const message = (v: string) =>
    `'${v}' matches that service account in ANY trust domain (Istio matches spiffe://<any>/ns/<ns>/sa/<sa>), so a ` +
    'federated peer with the same namespace and name passes; add trustDomains to this source, or use principals';

  it('for serviceAccounts (path of the field) and for a source.serviceAccount condition (values and notValues)', () => {
    const from = issues(rules('ALLOW', '  - from:\n    - source:\n        serviceAccounts: ["ops/a", "ops/b"]'));
    expect(from.map((i) => [i.path, i.message])).toEqual([
      ['spec.rules[0].from[0].source.serviceAccounts', message('ops/a, ops/b')],
    ]);
    const when = issues(
      rules(
        'ALLOW',
        '  - when:\n    - key: source.serviceAccount\n      values: ["ops/a"]\n      notValues: ["ops/b"]',
      ),
    );
    expect(when.map((i) => [i.path, i.message])).toEqual([['spec.rules[0].when[0]', message('ops/a, ops/b')]]);
    const valuesOnly = issues(rules('ALLOW', '  - when:\n    - key: source.serviceAccount\n      values: ["ops/a"]'));
    expect(valuesOnly.map((i) => i.message)).toEqual([message('ops/a')]);
    const notOnly = issues(rules('ALLOW', '  - when:\n    - key: source.serviceAccount\n      notValues: ["ops/b"]'));
    expect(notOnly.map((i) => i.message)).toEqual([message('ops/b')]);
  });
});
