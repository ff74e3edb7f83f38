import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req, user, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import { formatExplanation } from './explain.js';
import type { RequestAttributes } from './types.js';

/**
 * What `explain` tells an SRE about a denied request: for every request attribute a rule can read, the failure names
 * the policy field, what it requires and what the request had; the same rule with a request that has the value is
 * reported as matched (both sides of each sentence).
 */

const alice = user('https://idp', 'alice', {}, { presenter: 'cli' });
const mtls = peer('spiffe://cluster.local/ns/a/sa/b');

/** [rule, a request it does not match, the failure text, a request it matches]. */
const CASES: readonly [string, RequestAttributes, string, RequestAttributes][] = [
  [
    'from:\n    - source:\n        ipBlocks: ["192.168.0.0/16"]',
    req(),
    "spec.rules[0].from[0].source.ipBlocks requires one of [192.168.0.0/16], but the source IP is '10.0.0.1'",
    req({ sourceIp: '192.168.1.1' }),
  ],
  [
    'from:\n    - source:\n        remoteIpBlocks: ["192.168.0.0/16"]',
    req(),
    "spec.rules[0].from[0].source.remoteIpBlocks requires one of [192.168.0.0/16], but the remote (original client) IP is '10.0.0.1'",
    req({ remoteIp: '192.168.1.1' }),
  ],
  [
    'to:\n    - operation:\n        ports: ["9090"]',
    req(),
    'spec.rules[0].to[0].operation.ports requires one of [9090], but the destination port is 8080',
    req({ destinationPort: 9090 }),
  ],
  [
    'to:\n    - operation:\n        hosts: ["a.com"]',
    req(),
    "spec.rules[0].to[0].operation.hosts requires one of [a.com], but the host is 'svc.example.com'",
    req({ host: 'a.com' }),
  ],
  [
    'to:\n    - operation:\n        notMethods: ["GET"]',
    req(),
    "spec.rules[0].to[0].operation.notMethods excludes [GET], and the method is 'GET'",
    req({ method: 'POST' }),
  ],
  [
    'when:\n    - key: destination.ip\n      values: ["10.9.9.9"]',
    req(),
    "spec.rules[0].when[0] (destination.ip) requires one of [10.9.9.9], but the destination IP is '10.0.0.2'",
    req({ destinationIp: '10.9.9.9' }),
  ],
  [
    'when:\n    - key: connection.sni\n      values: ["x.example"]',
    req({ sni: 'y.example' }),
    "spec.rules[0].when[0] (connection.sni) requires one of [x.example], but the SNI is 'y.example'",
    req({ sni: 'x.example' }),
  ],
  [
    'when:\n    - key: request.headers[x-env]\n      values: ["prod"]\n      notValues: ["dev"]',
    req({ headers: { 'x-env': 'dev' } }),
    "spec.rules[0].when[0] (request.headers[x-env]) requires one of [prod] and none of [dev], but header x-env is 'dev'",
    req({ headers: { 'x-env': 'prod' } }),
  ],
  [
    'when:\n    - key: request.headers[x-env]\n      notValues: ["dev"]',
    req({ headers: { 'x-env': 'dev' } }),
    "spec.rules[0].when[0] (request.headers[x-env]) requires none of [dev], but header x-env is 'dev'",
    req({ headers: { 'x-env': 'prod' } }),
  ],
  [
    'when:\n    - key: request.auth.presenter\n      values: ["web"]',
    req({ user: alice }),
    "spec.rules[0].when[0] (request.auth.presenter) requires one of [web], but the token's azp is 'cli'",
    req({ user: user('https://idp', 'alice', {}, { presenter: 'web' }) }),
  ],
  [
    'when:\n    - key: request.auth.presenter\n      values: ["web"]',
    req({ user: user('https://idp', 'bob') }),
    'spec.rules[0].when[0] (request.auth.presenter) requires one of [web], but the token has no azp (user https://idp/bob)',
    req({ user: user('https://idp', 'bob', {}, { presenter: 'web' }) }),
  ],
  [
    'when:\n    - key: request.auth.claims[org][team]\n      values: ["red"]',
    req({ user: user('https://idp', 'alice', { org: { team: 'blue' } }) }),
    "spec.rules[0].when[0] (request.auth.claims[org][team]) requires one of [red], but the end user's org.team claim is [blue] (user https://idp/alice)",
    req({ user: user('https://idp', 'alice', { org: { team: 'red' } }) }),
  ],
  [
    'from:\n    - source:\n        requestPrincipals: ["*"]',
    req(),
    'spec.rules[0].from[0].source.requestPrincipals requires one of [*], but the request has no verified end-user token',
    req({ user: alice }),
  ],
  [
    'from:\n    - source:\n        principals: ["cluster.local/ns/a/sa/b"]',
    req(),
    'spec.rules[0].from[0].source.principals requires one of [cluster.local/ns/a/sa/b], but the request has no peer identity (no mTLS)',
    req({ peer: mtls }),
  ],
  [
    'when:\n    - key: experimental.envoy.filters.http.foo[bar]\n      values: ["baz"]',
    req(),
    'spec.rules[0].when[0] (experimental.envoy.filters.http.foo[bar]) requires one of [baz], but the filter metadata did not match',
    req({ filterMetadata: { 'envoy.filters.http.foo': { bar: 'baz' } } }),
  ],
  [
    'from:\n    - source:\n        principals: ["cluster.local/ns/x/sa/y"]\n    - source:\n        namespaces: ["x"]',
    req({ peer: mtls }),
    'no `from` entry matched: spec.rules[0].from[0].source.principals requires one of [cluster.local/ns/x/sa/y], but the peer is spiffe://cluster.local/ns/a/sa/b; spec.rules[0].from[1].source.namespaces requires one of [x], but the peer is spiffe://cluster.local/ns/a/sa/b',
    req({ peer: peer('spiffe://cluster.local/ns/x/sa/z') }),
  ],
  [
    'to:\n    - operation:\n        methods: ["POST"]\n    - operation:\n        paths: ["/x"]',
    req(),
    "no `to` entry matched: spec.rules[0].to[0].operation.methods requires one of [POST], but the method is 'GET'; spec.rules[0].to[1].operation.paths requires one of [/x], but the normalized path is '/'",
    req({ path: '/x' }),
  ],
];

describe('explain: the failure names the field, what it requires and what the request had', () => {
  it.each(CASES)('%s', (rule, denied, failure, allowed) => {
    const set = policySet(policy('ALLOW', `  rules:\n  - ${rule}`, { name: 'p' }));
    const no = set.explain(WORKLOAD, denied);
    expect(no.decision.allowed).toBe(false);
    expect(no.policies[0]!.rules).toEqual([{ index: 0, line: expect.any(Number), matched: false, failure }]);
    expect(formatExplanation(no)).toContain(`no match: ${failure}`);
    const yes = set.explain(WORKLOAD, allowed);
    expect(yes.decision.allowed).toBe(true);
    expect(yes.policies[0]!.rules).toEqual([{ index: 0, line: expect.any(Number), matched: true, failure: null }]);
  });

  it('a `from` entry that matches makes the rule fail on its `to`, not on the other `from` entries', () => {
    const set = policySet(
      policy(
        'ALLOW',
        '  rules:\n  - from:\n    - source:\n        namespaces: ["x"]\n    - source:\n        principals: ["cluster.local/ns/a/sa/b"]\n    to:\n    - operation:\n        methods: ["POST"]',
      ),
    );
    expect(set.explain(WORKLOAD, req({ peer: mtls })).policies[0]!.rules[0]!.failure).toBe(
      "spec.rules[0].to[0].operation.methods requires one of [POST], but the method is 'GET'",
    );
  });
});

describe('explain: policies in the order Istio applies them, each with its role', () => {
  const dry = { annotations: '    istio.io/dry-run: "true"' };
  // Built inside each test (not at collection time), so mutation testing sees which test reads what.
  const explainAll = () =>
    policySet(
      policy('AUDIT', '  rules:\n  - {}', { name: 'audit' }) +
        policy('ALLOW', '  rules:\n  - {}', { name: 'staged-allow', ...dry }) +
        policy('ALLOW', '  rules:\n  - {}', { name: 'allow' }) +
        policy('DENY', '  rules:\n  - to:\n    - operation:\n        methods: ["DELETE"]', { name: 'deny' }) +
        policy('DENY', '  rules:\n  - {}', { name: 'staged-deny', ...dry }) +
        policy('CUSTOM', '  provider:\n    name: ext\n  rules:\n  - {}', { name: 'custom' }),
    ).explain(WORKLOAD, req());

  it('CUSTOM, then DENY, then ALLOW, then AUDIT, each role in words', () => {
    const e = explainAll();
    expect(e.policies.map((p) => p.policy.action)).toEqual(['CUSTOM', 'DENY', 'DENY', 'ALLOW', 'ALLOW', 'AUDIT']);
    expect(Object.fromEntries(e.policies.map((p) => [p.policy.name, [p.dryRun, p.role]]))).toEqual({
      custom: [
        false,
        "CUSTOM: decided by the external provider 'ext', not by mesh-authz (its rules are not evaluated here)",
      ],
      deny: [false, 'DENY: a matching rule denies'],
      'staged-deny': [true, 'DENY (dry-run: reported, never enforced)'],
      'staged-allow': [true, 'ALLOW (dry-run: reported, never enforced)'],
      allow: [false, 'ALLOW: a matching rule allows'],
      audit: [false, 'AUDIT: a match only marks the request for audit logging'],
    });
  });

  it("a CUSTOM policy's rules are not evaluated, and it is not said to match nothing", () => {
    const e = explainAll();
    expect(e.policies[0]!.rules).toEqual([]);
    const text = formatExplanation(e);
    // Each policy's role is printed under it.
    expect(text).toMatch(/\npolicy foo\/custom at test\.yaml:\d+\n {2}CUSTOM: decided by the external provider 'ext'/);
    expect(text).toMatch(/\npolicy foo\/deny at test\.yaml:\d+\n {2}DENY: a matching rule denies\n {2}rule 0 \(line /);
    expect(text).not.toContain('(no rules: matches nothing)');
    expect(text).toContain(
      'dry-run DENY set [foo/staged-deny]: foo/staged-deny rule 0 matched; the staged set alone would DENY',
    );
    expect(text).toContain(
      'dry-run ALLOW set [foo/staged-allow]: foo/staged-allow rule 0 matched; the staged set alone would ALLOW',
    );
    expect(text).toContain('audit: foo/audit matched (request marked for audit)');
    expect(text).toContain('decision: ALLOW (allow_matched)');
  });

  it('staged policies of one action are reported as one set, naming each', () => {
    const dry = { annotations: '    istio.io/dry-run: "true"' };
    const set = policySet(
      policy('DENY', '  rules:\n  - to:\n    - operation:\n        methods: ["DELETE"]', { name: 'a', ...dry }) +
        policy('DENY', '  rules:\n  - to:\n    - operation:\n        methods: ["PUT"]', { name: 'b', ...dry }),
    );
    expect(formatExplanation(set.explain(WORKLOAD, req({ method: 'PUT' })))).toContain(
      'dry-run DENY set [foo/a, foo/b]: foo/b rule 0 matched; the staged set alone would DENY',
    );
  });

  it('an ALLOW without rules is said to match nothing', () => {
    const empty = policySet(policy('ALLOW', '  rules: []', { name: 'none' }));
    expect(formatExplanation(empty.explain(WORKLOAD, req()))).toContain('  (no rules: matches nothing)');
  });
});

describe('explain: the request as it was matched', () => {
  const set = policySet(policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        paths: ["/a"]'));

  it('the normalized path, or that it could not be normalized', () => {
    const ok = set.explain(WORKLOAD, req({ path: '/x/../a' }));
    expect(ok.normalizedPath).toBe('/a');
    expect(formatExplanation(ok)).toContain('path: /a (normalization BASE)');
    const bad = set.explain(WORKLOAD, req({ path: 'a' }));
    expect(bad.normalizedPath).toBeNull();
    expect(bad.decision.allowed).toBe(false);
    expect(bad.policies[0]!.rules[0]!.failure).toBe(
      "spec.rules[0].to[0].operation.paths requires one of [/a], but the normalized path is ''",
    );
    expect(formatExplanation(bad)).toContain('path: cannot be normalized (BASE)');
  });

  it('the workload line: namespace, labels and targets, or (none)', () => {
    const text = formatExplanation(set.explain({ namespace: '', labels: {} }, req()));
    expect(text.split('\n')[0]).toBe('workload: namespace (none)');
    const labelled = formatExplanation(set.explain({ namespace: 'foo', labels: { app: 'httpbin', v: '1' } }, req()));
    expect(labelled.split('\n')[0]).toBe('workload: namespace foo, labels app=httpbin,v=1');
  });
});

describe('explain: where to look', () => {
  it('each rule is reported at its own line of the policy file', () => {
    const yaml = policy(
      'ALLOW',
      '  rules:\n  - to:\n    - operation:\n        methods: ["POST"]\n  - to:\n    - operation:\n        methods: ["PUT"]',
    );
    const ruleLines = yaml
      .split('\n')
      .map((l, i) => (l.startsWith('  - ') ? i + 1 : 0))
      .filter((n) => n > 0);
    const e = policySet(yaml).explain(WORKLOAD, req());
    expect(e.policies[0]!.rules.map((r) => r.line)).toEqual(ruleLines);
    expect(formatExplanation(e)).toContain(`  rule 1 (line ${ruleLines[1]}): no match: `);
  });

  it('says on a line of its own that no policy selects the workload, and not when one does', () => {
    const set = policySet(policy('DENY', '  rules:\n  - to:\n    - operation:\n        methods: ["DELETE"]'));
    const none = formatExplanation(set.explain({ namespace: 'elsewhere', labels: {} }, req())).split('\n');
    expect(none).toContain('no policy selects this workload');
    const some = formatExplanation(set.explain(WORKLOAD, req())).split('\n');
    expect(some).not.toContain('no policy selects this workload');
    expect(some).toContain('policy foo/deny at test.yaml:1');
  });

  it('names the workload’s targets, and why a targetRef policy aimed elsewhere did not apply', () => {
    const gateway = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: gw-deny
  namespace: foo
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: ingress
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: egress
  action: DENY
  rules:
  - {}
`;
    const workload = {
      namespace: 'foo',
      labels: {},
      targets: [
        { group: '', kind: 'Service', name: 'a' },
        { group: '', kind: 'Service', name: 'b' },
      ],
    };
    const text = formatExplanation(policySet(gateway).explain(workload, req())).split('\n');
    expect(text[0]).toBe('workload: namespace foo, targets Service/a,Service/b');
    expect(text).toContain(
      'policy foo/gw-deny at test.yaml:1 (targetRef Gateway.gateway.networking.k8s.io/ingress, Gateway.gateway.networking.k8s.io/egress)',
    );
    expect(text).toContain(
      '  not applied: this request is for Service/a, Service/b, none of which this policy targets',
    );
  });
});
