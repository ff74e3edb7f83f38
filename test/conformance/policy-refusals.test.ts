import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { checkCommand } from '../../src/cli/check.js';
import { ISTIO, SRC_SECURITY, SRC_VALIDATION } from './policy-cases.js';

/**
 * Policies istiod 1.30.3 refuses are refused here too: `mesh-authz check` (which loads policies exactly as `serve`
 * does) exits 2 naming file:line and the reason, and makes no decision. Each refusal has an accepted neighbour, so
 * the rule is not wider than istiod's.
 */

interface Refusal {
  readonly name: string;
  readonly source: string;
  /** The policy body after `spec:` (indented by two). */
  readonly spec: string;
  readonly annotations?: string;
  /** A substring of the line the error must point at. */
  readonly marker: string;
  readonly code: string;
}

const SRC_TARGET = `${SRC_VALIDATION} (validatePolicyTargetReference, allowedTargetRefs)`;
const SRC_DRY = `${SRC_VALIDATION} (checkDryRunAnnotation)`;
const SRC_ATTR = `${SRC_SECURITY} (ValidateAttribute, CheckServiceAccount, CheckWildcardValues)`;
const SRC_PATH = `${SRC_SECURITY} (CheckValidPathTemplate, IsValidLiteral)`;

const when = (key: string, body: string) => `  rules:\n  - when:\n    - key: ${key}\n      ${body}`;
const paths = (values: string) => `  rules:\n  - to:\n    - operation:\n        paths: ${values}`;
const gw = (extra: string) => `  targetRef:\n    group: gateway.networking.k8s.io\n${extra}\n  rules:\n  - {}`;

const refusals: Refusal[] = [
  {
    name: 'source.serviceAccount with more than one /',
    source: SRC_ATTR,
    spec: when('source.serviceAccount', 'values: ["ns/sa/extra"]'),
    marker: 'ns/sa/extra',
    code: 'invalid_value',
  },
  {
    name: 'source.serviceAccount with a wildcard',
    source: SRC_ATTR,
    spec: when('source.serviceAccount', 'values: ["ops/*"]'),
    marker: 'ops/*',
    code: 'invalid_value',
  },
  {
    name: 'source.serviceAccount notValues with an empty namespace',
    source: SRC_ATTR,
    spec: when('source.serviceAccount', 'notValues: ["/deployer"]'),
    marker: '/deployer',
    code: 'invalid_value',
  },
  {
    name: 'source.trustDomain with an inner wildcard',
    source: SRC_ATTR,
    spec: when('source.trustDomain', 'values: ["prod-*-td"]'),
    marker: 'prod-*-td',
    code: 'invalid_value',
  },
  {
    name: 'source.trustDomain with two wildcards',
    source: SRC_ATTR,
    spec: when('source.trustDomain', 'values: ["*td*"]'),
    marker: '*td*',
    code: 'invalid_value',
  },
  {
    name: 'trustDomains with a /',
    source: `${SRC_SECURITY} (CheckTrustDomainValues)`,
    spec: '  rules:\n  - from:\n    - source:\n        trustDomains: ["td/ns/a"]',
    marker: 'td/ns/a',
    code: 'invalid_value',
  },
  {
    name: 'targetRef of a kind istiod does not accept (Deployment)',
    source: SRC_TARGET,
    spec: '  targetRef:\n    group: apps\n    kind: Deployment\n    name: web\n  rules:\n  - {}',
    marker: 'kind: Deployment',
    code: 'invalid_target_ref',
  },
  {
    name: 'targetRef Gateway in the core group (the group must be gateway.networking.k8s.io)',
    source: SRC_TARGET,
    spec: '  targetRef:\n    kind: Gateway\n    name: ingress\n  rules:\n  - {}',
    marker: 'kind: Gateway',
    code: 'invalid_target_ref',
  },
  {
    name: 'targetRef with a namespace',
    source: SRC_TARGET,
    spec: gw('    kind: Gateway\n    name: ingress\n    namespace: other'),
    marker: 'namespace: other',
    code: 'invalid_target_ref',
  },
  {
    name: 'targetRefs entry of a kind istiod does not accept',
    source: SRC_TARGET,
    spec: '  targetRefs:\n  - kind: Service\n    name: cart\n  - kind: Pod\n    name: cart-0\n  rules:\n  - {}',
    marker: 'kind: Pod',
    code: 'invalid_target_ref',
  },
  {
    name: 'istio.io/dry-run on an AUDIT policy',
    source: SRC_DRY,
    spec: '  action: AUDIT\n  rules:\n  - {}',
    annotations: '    istio.io/dry-run: "true"',
    marker: 'istio.io/dry-run',
    code: 'invalid_annotation',
  },
  {
    name: 'istio.io/dry-run on a CUSTOM policy, even "false"',
    source: SRC_DRY,
    spec: '  action: CUSTOM\n  provider:\n    name: ext\n  rules:\n  - {}',
    annotations: '    istio.io/dry-run: "false"',
    marker: 'istio.io/dry-run',
    code: 'invalid_annotation',
  },
  {
    name: 'a literal * segment after {**}',
    source: SRC_PATH,
    spec: paths('["/a/{**}/*"]'),
    marker: '/a/{**}/*',
    code: 'invalid_path_template',
  },
  {
    name: 'a literal * segment before {*}',
    source: SRC_PATH,
    spec: paths('["/a/*/{*}"]'),
    marker: '/a/*/{*}',
    code: 'invalid_path_template',
  },
  {
    name: 'a literal segment with = next to a template',
    source: SRC_PATH,
    spec: paths('["/a=b/{*}"]'),
    marker: '/a=b/{*}',
    code: 'invalid_path_template',
  },
  {
    name: 'an empty segment (//) inside a template',
    source: `${SRC_PATH}; envoyproxy/envoy source/extensions/path/uri_template_lib/uri_template_internal.cc`,
    spec: paths('["/a//{*}"]'),
    marker: '/a//{*}',
    code: 'invalid_path_template',
  },
  {
    name: '{*} after {**}',
    source: SRC_PATH,
    spec: paths('["/a/{**}/b/{*}"]'),
    marker: '/a/{**}/b/{*}',
    code: 'invalid_path_template',
  },
];

/** Accepted by istiod 1.30.3: the neighbours of the refusals above. */
const accepted: { name: string; source: string; spec: string; annotations?: string }[] = [
  { name: 'literal segments after {**}', source: SRC_PATH, spec: paths('["/store/{**}/cart"]') },
  { name: 'source.serviceAccount ns/sa', source: SRC_ATTR, spec: when('source.serviceAccount', 'values: ["ops/sa"]') },
  {
    name: 'source.trustDomain prefix form (a key of released istiod since 1.30.2)',
    source: `${SRC_ATTR}; ${ISTIO} pilot/pkg/security/authz/model/model.go`,
    spec: when('source.trustDomain', 'values: ["prod*"]'),
  },
  {
    name: 'targetRef Gateway of gateway.networking.k8s.io without a namespace',
    source: SRC_TARGET,
    spec: gw('    kind: Gateway\n    name: ingress'),
  },
  {
    name: 'istio.io/dry-run "false" on a DENY policy',
    source: SRC_DRY,
    spec: '  action: DENY\n  rules:\n  - {}',
    annotations: '    istio.io/dry-run: "false"',
  },
];

function document(spec: string, annotations?: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: p
  namespace: foo
${annotations ? `  annotations:\n${annotations}\n` : ''}spec:
${spec}
`;
}

let dir = '';
let requestFile = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'refusals-'));
  requestFile = join(dir, 'request.json');
  await writeFile(
    requestFile,
    JSON.stringify({
      attributes: {
        contextExtensions: { namespace: 'foo', app: 'httpbin' },
        request: { http: { method: 'GET', path: '/', host: 'httpbin.foo', headers: { ':method': 'GET' } } },
      },
    }),
  );
});

async function check(file: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    out += String(c);
    return true;
  });
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
    err += String(c);
    return true;
  });
  try {
    const code = await checkCommand.run(['--policy', file, '--request', requestFile]);
    return { code, out, err };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}

describe('conformance: policies istiod refuses (exit 2 with file:line, never loaded)', () => {
  refusals.forEach((r, i) => {
    it(`refuses ${r.name} [${r.source}]`, async () => {
      const text = document(r.spec, r.annotations);
      const file = join(dir, `refused-${i}.yaml`);
      await writeFile(file, text);
      const line = text.split('\n').findIndex((l) => l.includes(r.marker)) + 1;
      const res = await check(file);
      expect(res.code).toBe(2);
      expect(res.out).toBe('');
      expect(res.err).toContain(`${file}:${line}: error:`);
      expect(res.err).toContain(`[${r.code}]`);
    });
  });
  accepted.forEach((a, i) => {
    it(`accepts ${a.name} [${a.source}]`, async () => {
      const file = join(dir, `accepted-${i}.yaml`);
      await writeFile(file, document(a.spec, a.annotations));
      const res = await check(file);
      expect(res.err).toBe('');
      expect(res.code).toBe(0);
      expect(JSON.parse(res.out)).toHaveProperty('allowed');
    });
  });
});
