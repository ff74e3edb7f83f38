import { describe } from 'vitest';
import { type ConformanceCase, DOC_AP, DOC_BEST, DOC_CONCEPT, DOC_DRYRUN, runCases } from './policy-cases.js';
import { peer, policy, req } from './policy-fixtures.js';

/** Action order, selection, empty rules and dry-run: how policies combine into one decision. */

const ADMIN = peer('spiffe://cluster.local/ns/foo/sa/admin');
const OTHER = peer('spiffe://cluster.local/ns/bar/sa/other');
const allowAdmin = policy(
  'ALLOW',
  '  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/foo/sa/admin"]',
  { name: 'allow-admin' },
);
const denyDelete = policy('DENY', '  rules:\n  - to:\n    - operation:\n        methods: ["DELETE"]', {
  name: 'deny-delete',
});

const cases: ConformanceCase[] = [
  {
    name: 'no policy selects the workload: allow',
    source: DOC_CONCEPT,
    policies: '',
    request: req(),
    allowed: true,
    code: 'no_allow_policy',
  },
  {
    name: 'an ALLOW policy selects the workload and its rule matches: allow',
    source: DOC_AP,
    policies: allowAdmin,
    request: req({ peer: ADMIN }),
    allowed: true,
    code: 'allow_matched',
    decidedBy: 'foo/allow-admin#0',
  },
  {
    name: 'an ALLOW policy selects the workload and nothing matches: default deny',
    source: DOC_CONCEPT,
    policies: allowAdmin,
    request: req({ peer: OTHER }),
    allowed: false,
    code: 'no_allow_matched',
  },
  {
    name: 'DENY is evaluated before ALLOW: a matching DENY wins over a matching ALLOW',
    source: DOC_CONCEPT,
    policies: allowAdmin + denyDelete,
    request: req({ peer: ADMIN, method: 'DELETE' }),
    allowed: false,
    code: 'deny_matched',
    decidedBy: 'foo/deny-delete#0',
  },
  {
    name: 'a DENY that does not match with no ALLOW policy: allow',
    source: DOC_CONCEPT,
    policies: denyDelete,
    request: req({ method: 'GET' }),
    allowed: true,
    code: 'no_allow_policy',
  },
  {
    name: 'ALLOW with no rules (spec {}) selects the workload and allows nothing',
    source: `${DOC_AP} (allow-nothing example)`,
    policies:
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: allow-nothing\n  namespace: foo\nspec: {}\n',
    request: req({ peer: ADMIN }),
    allowed: false,
    code: 'no_allow_matched',
  },
  {
    name: 'ALLOW with one empty rule allows everything',
    source: `${DOC_AP} (allow-all example)`,
    policies: policy('ALLOW', '  rules:\n  - {}', { name: 'allow-all' }),
    request: req({ method: 'DELETE', path: '/admin' }),
    allowed: true,
    code: 'allow_matched',
  },
  {
    name: 'DENY with one empty rule denies everything',
    source: `${DOC_AP} (deny-all example)`,
    policies: policy('DENY', '  rules:\n  - {}', { name: 'deny-all' }) + allowAdmin,
    request: req({ peer: ADMIN }),
    allowed: false,
    code: 'deny_matched',
  },
  {
    name: 'root-namespace allow-nothing is zero-trust default deny for every workload of the mesh',
    source: DOC_BEST,
    policies:
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: allow-nothing\n  namespace: istio-system\nspec: {}\n',
    request: req({ peer: ADMIN }),
    workload: { namespace: 'any', labels: { app: 'x' } },
    allowed: false,
    code: 'no_allow_matched',
  },
  {
    name: 'root namespace is configurable: a policy in istio-system is ordinary when the root is mesh-root',
    source: `${DOC_AP} (root namespace = meshConfig.rootNamespace)`,
    policies:
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: allow-nothing\n  namespace: istio-system\nspec: {}\n',
    request: req(),
    workload: { namespace: 'any', labels: {} },
    options: { rootNamespace: 'mesh-root' },
    allowed: true,
    code: 'no_allow_policy',
  },
  {
    name: 'a policy in another namespace does not apply',
    source: DOC_AP,
    policies: policy('DENY', '  rules:\n  - {}', { namespace: 'bar' }),
    request: req(),
    allowed: true,
    code: 'no_allow_policy',
  },
  {
    name: 'a selector that is not a subset of the workload labels does not select it',
    source: `${DOC_AP} (selector)`,
    policies: policy('DENY', '  selector:\n    matchLabels:\n      app: other\n  rules:\n  - {}', { selector: false }),
    request: req(),
    allowed: true,
    code: 'no_allow_policy',
  },
  {
    name: 'a selector that is a subset of the workload labels selects it',
    source: `${DOC_AP} (selector)`,
    policies: policy('DENY', '  selector:\n    matchLabels:\n      version: v1\n  rules:\n  - {}', { selector: false }),
    request: req(),
    allowed: false,
    code: 'deny_matched',
  },
  {
    name: 'no selector applies to every workload of the namespace',
    source: `${DOC_AP} (selector)`,
    policies: policy('DENY', '  rules:\n  - {}', { selector: false }),
    request: req(),
    workload: { namespace: 'foo', labels: { app: 'unrelated' } },
    allowed: false,
    code: 'deny_matched',
  },
  {
    name: 'rules of all ALLOW policies are pooled: a match in any allows',
    source: DOC_CONCEPT,
    policies:
      allowAdmin +
      policy('ALLOW', '  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/ns/bar/sa/other"]', {
        name: 'allow-other',
      }),
    request: req({ peer: OTHER }),
    allowed: true,
    decidedBy: 'foo/allow-other#0',
  },
  {
    name: 'AUDIT never changes the decision but is reported',
    source: `${DOC_AP} (AUDIT action)`,
    policies: policy('AUDIT', '  rules:\n  - {}', { name: 'audit-all' }),
    request: req(),
    allowed: true,
    code: 'no_allow_policy',
  },
  {
    name: 'CUSTOM does not decide here (its provider does); with no ALLOW the request is allowed',
    source: `${DOC_AP} (CUSTOM action)`,
    policies: policy('CUSTOM', '  provider:\n    name: ext\n  rules:\n  - {}', { name: 'custom' }),
    request: req(),
    allowed: true,
    code: 'no_allow_policy',
  },
  {
    name: 'a dry-run DENY that matches is not enforced',
    source: DOC_DRYRUN,
    policies: policy('DENY', '  rules:\n  - {}', { name: 'dry-deny', annotations: '    istio.io/dry-run: "true"' }),
    request: req(),
    allowed: true,
    code: 'no_allow_policy',
  },
  {
    name: 'a workload whose only ALLOW policy is dry-run has no enforced ALLOW: allowed',
    source: DOC_DRYRUN,
    policies: policy('ALLOW', '  rules:\n  - from:\n    - source:\n        principals: ["nobody"]', {
      annotations: '    istio.io/dry-run: "true"',
    }),
    request: req(),
    allowed: true,
    code: 'no_allow_policy',
  },
  {
    name: 'dry-run "false" is an enforced policy',
    source: DOC_DRYRUN,
    policies: policy('DENY', '  rules:\n  - {}', { annotations: '    istio.io/dry-run: "false"' }),
    request: req(),
    allowed: false,
    code: 'deny_matched',
  },
  {
    name: 'the first matching rule (in policy order) is reported',
    source: DOC_CONCEPT,
    policies: policy(
      'ALLOW',
      '  rules:\n  - to:\n    - operation:\n        methods: ["POST"]\n  - to:\n    - operation:\n        methods: ["GET"]\n  - {}',
    ),
    request: req({ method: 'GET' }),
    allowed: true,
    decidedBy: 'foo/allow#1',
  },
];

describe('conformance: actions, selection, empty rules, dry-run', () => {
  runCases(cases);
});
