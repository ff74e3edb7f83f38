import { describe } from 'vitest';
import type { WorkloadRef } from '../../src/policy/types.js';
import { type ConformanceCase, runCases, SRC_ATTACHMENT } from './policy-cases.js';
import { req } from './policy-fixtures.js';

/**
 * targetRef / targetRefs attachment. istiod applies a targetRef policy only where its target is the workload being
 * decided (a Gateway it is, a Service it serves) and ignores it everywhere else; it is never namespace-wide. Here
 * the workload's targets come from workload resolution (`WorkloadRef.targets`); unknown targets attach nothing.
 * Source: istio/istio@1.30.3 pilot/pkg/model/policyattachment.go (ShouldAttachPolicy, matchesGroupKind).
 */

const GW = 'gateway.networking.k8s.io';

function targeted(action: string, ref: string, rules: string, extra: { name?: string; namespace?: string } = {}) {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${extra.name ?? action.toLowerCase()}
  namespace: ${extra.namespace ?? 'foo'}
spec:
${ref}
  action: ${action}
${rules}
---
`;
}

const gatewayRef = (name: string) => `  targetRef:\n    group: ${GW}\n    kind: Gateway\n    name: ${name}`;
const serviceRefs = (...names: string[]) =>
  `  targetRefs:\n${names.map((n) => `  - kind: Service\n    group: ""\n    name: ${n}`).join('\n')}`;
const DENY_ALL = '  rules:\n  - {}';
const ALLOW_X = '  rules:\n  - to:\n    - operation:\n        paths: ["/x"]';

const plain: WorkloadRef = { namespace: 'foo', labels: { app: 'httpbin' } };
const gateway = (name: string): WorkloadRef => ({
  namespace: 'foo',
  labels: { 'gateway.networking.k8s.io/gateway-name': name },
  targets: [{ group: GW, kind: 'Gateway', name }],
});
const serving = (...names: string[]): WorkloadRef => ({
  namespace: 'foo',
  labels: { app: 'httpbin' },
  targets: names.map((name) => ({ group: '', kind: 'Service', name })),
});

const cases: ConformanceCase[] = [
  {
    name: 'a DENY aimed at a Gateway does not apply to a workload with no known targets (not namespace-wide)',
    source: SRC_ATTACHMENT,
    policies: targeted('DENY', gatewayRef('ingress'), DENY_ALL),
    workload: plain,
    request: req(),
    allowed: true,
    code: 'no_allow_policy',
  },
  {
    name: 'a DENY aimed at a Gateway applies to that Gateway',
    source: SRC_ATTACHMENT,
    policies: targeted('DENY', gatewayRef('ingress'), DENY_ALL),
    workload: gateway('ingress'),
    request: req(),
    allowed: false,
    code: 'deny_matched',
    decidedBy: 'foo/deny#0',
  },
  {
    name: 'a DENY aimed at a Gateway does not apply to another Gateway of the namespace',
    source: SRC_ATTACHMENT,
    policies: targeted('DENY', gatewayRef('ingress'), DENY_ALL),
    workload: gateway('egress'),
    request: req(),
    allowed: true,
  },
  {
    name: 'an ALLOW aimed at Service cart does not make a workload serving orders default-deny',
    source: SRC_ATTACHMENT,
    policies: targeted('ALLOW', serviceRefs('cart'), ALLOW_X),
    workload: serving('orders'),
    request: req({ path: '/y' }),
    allowed: true,
    code: 'no_allow_policy',
  },
  {
    name: 'an ALLOW aimed at Service cart applies to a workload serving cart (default deny for the rest)',
    source: SRC_ATTACHMENT,
    policies: targeted('ALLOW', serviceRefs('cart'), ALLOW_X),
    workload: serving('orders', 'cart'),
    request: req({ path: '/y' }),
    allowed: false,
    code: 'no_allow_matched',
  },
  {
    name: 'targetRefs: any listed target attaches the policy',
    source: SRC_ATTACHMENT,
    policies: targeted('ALLOW', serviceRefs('a', 'cart'), ALLOW_X),
    workload: serving('cart'),
    request: req({ path: '/x' }),
    allowed: true,
    code: 'allow_matched',
  },
  {
    name: 'a Service target of another namespace does not attach (targetRefs are same-namespace only)',
    source: SRC_ATTACHMENT,
    policies: targeted('DENY', serviceRefs('cart'), DENY_ALL),
    workload: { ...plain, targets: [{ group: '', kind: 'Service', name: 'cart', namespace: 'bar' }] },
    request: req(),
    allowed: true,
  },
  {
    name: 'a root-namespace targetRef to a Gateway does not reach Gateways of other namespaces',
    source: SRC_ATTACHMENT,
    policies: targeted('DENY', gatewayRef('ingress'), DENY_ALL, { namespace: 'istio-system' }),
    workload: gateway('ingress'),
    request: req(),
    allowed: true,
  },
  {
    name: 'GatewayClass istio-waypoint from the root namespace attaches to waypoints',
    source: SRC_ATTACHMENT,
    policies: targeted(
      'DENY',
      `  targetRef:\n    group: ${GW}\n    kind: GatewayClass\n    name: istio-waypoint`,
      DENY_ALL,
      {
        namespace: 'istio-system',
      },
    ),
    workload: { ...plain, targets: [{ group: GW, kind: 'GatewayClass', name: 'istio-waypoint' }] },
    request: req(),
    allowed: false,
  },
  {
    name: 'a selector policy still applies to a workload that has targets',
    source: SRC_ATTACHMENT,
    policies: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: sel
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: DENY
  rules:
  - {}
`,
    workload: serving('cart'),
    request: req(),
    allowed: false,
    decidedBy: 'foo/sel#0',
  },
];

describe('conformance: targetRef attachment', () => {
  runCases(cases);
});
