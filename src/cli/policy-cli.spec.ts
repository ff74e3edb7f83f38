import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { capture } from '../../test/support/capture.js';
import { explainCommand } from './explain.js';
import { lintCommand } from './lint.js';

const POLICIES = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-frontend
  namespace: shop
spec:
  selector:
    matchLabels:
      app: cart
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/shop/sa/frontend"]
    to:
    - operation:
        methods: ["GET"]
        paths: ["/cart/*"]
`;

const REQUEST = (principal: string, path: string) => ({
  attributes: {
    source: { principal, address: { socketAddress: { address: '10.0.0.5', portValue: 4444 } } },
    destination: { address: { socketAddress: { address: '10.0.0.6', portValue: 8080 } } },
    contextExtensions: { namespace: 'shop', app: 'cart' },
    request: { http: { method: 'GET', path, host: 'cart.shop:8080', headers: { ':method': 'GET' } } },
  },
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('mesh-authz lint', () => {
  it('exits 0 with warnings only, 1 with errors; json output for CI', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-lint-'));
    await writeFile(join(dir, 'ok.yaml'), POLICIES);
    const ok = await capture(() => lintCommand.run([dir]));
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('1 valid policy, 0 error(s)');
    await writeFile(
      join(dir, 'bad.yaml'),
      POLICIES.replace('name: allow-frontend', 'name: bad')
        .replace('action: ALLOW', 'action: DENY')
        .replace(/ {2}rules:[\s\S]*/, ''),
    );
    const workloads = join(dir, 'workloads.yml.txt');
    await writeFile(
      workloads,
      'workloads:\n- namespace: shop\n  labels: {app: cart}\n- namespace: shop\n  labels: {app: db}\n',
    );
    const bad = await capture(() => lintCommand.run([dir, '--format', 'json', '--workloads', workloads]));
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.out) as { errors: number; issues: { code: string; line: number }[] };
    expect(report.errors).toBe(1);
    expect(report.issues.map((i) => i.code)).toEqual(expect.arrayContaining(['missing_rules', 'uncovered_workload']));
  });
});

describe('mesh-authz explain', () => {
  it('explains a CheckRequest against the config policies, with the identity verified as the server would', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-explain-'));
    await writeFile(join(dir, 'policies.yaml'), POLICIES);
    // Envoy verified the peer (SPIFFE validation), so its principal is trusted: the identity phase still checks it.
    await writeFile(
      join(dir, 'config.yaml'),
      'policy:\n  paths: [policies.yaml]\nidentity:\n  peer:\n    sources: [principal]\n    trustEnvoyPrincipal: true\n',
    );
    await writeFile(
      join(dir, 'ok.json'),
      JSON.stringify(REQUEST('spiffe://cluster.local/ns/shop/sa/frontend', '/cart/1')),
    );
    await writeFile(
      join(dir, 'no.json'),
      JSON.stringify(REQUEST('spiffe://cluster.local/ns/shop/sa/other', '/cart/1')),
    );
    const ok = await capture(() =>
      explainCommand.run(['--config', join(dir, 'config.yaml'), '--request', join(dir, 'ok.json')]),
    );
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('decision: ALLOW (allow_matched)');
    expect(ok.out).toContain('identity: peer spiffe://cluster.local/ns/shop/sa/frontend');
    const no = await capture(() =>
      explainCommand.run(['--config', join(dir, 'config.yaml'), '--request', join(dir, 'no.json')]),
    );
    expect(no.out).toContain('decision: DENY (no_allow_matched)');
    expect(no.out).toContain('but the peer is spiffe://cluster.local/ns/shop/sa/other');
  });

  it('reports an identity failure instead of explaining rules that never ran', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-explain-'));
    await writeFile(join(dir, 'policies.yaml'), POLICIES);
    await writeFile(
      join(dir, 'config.yaml'),
      'policy:\n  paths: [policies.yaml]\nidentity:\n  peer:\n    sources: [principal]\n    trustEnvoyPrincipal: true\n',
    );
    // A principal that is not a valid SPIFFE ID (uppercase trust domain) is an invalid credential: 401.
    await writeFile(join(dir, 'bad.json'), JSON.stringify(REQUEST('spiffe://Cluster.local/ns/shop/sa/x', '/cart/1')));
    const out = await capture(() =>
      explainCommand.run(['--config', join(dir, 'config.yaml'), '--request', join(dir, 'bad.json')]),
    );
    expect(out.code).toBe(0);
    expect(out.out).toContain('UNAUTHENTICATED');
  });

  it("applies the config's input limits, as the server does (not the defaults)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-explain-'));
    await writeFile(join(dir, 'policies.yaml'), POLICIES);
    await writeFile(
      join(dir, 'config.yaml'),
      'server:\n  maxPathBytes: 8\npolicy:\n  paths: [policies.yaml]\nidentity:\n  peer:\n    sources: [principal]\n    trustEnvoyPrincipal: true\n',
    );
    // Allowed under the default limits; the server configured here refuses a 12-byte path before any policy runs.
    await writeFile(
      join(dir, 'long.json'),
      JSON.stringify(REQUEST('spiffe://cluster.local/ns/shop/sa/frontend', '/cart/123456')),
    );
    const out = await capture(() =>
      explainCommand.run([
        '--config',
        join(dir, 'config.yaml'),
        '--request',
        join(dir, 'long.json'),
        '--format',
        'json',
      ]),
    );
    expect(out.code).toBe(0); // a decision was made (a deny), as `check` would report it
    expect(JSON.parse(out.out)).toMatchObject({
      input: { allowed: false, httpStatus: 403, reasonCode: 'invalid_request' },
    });
  });

  it('exits 2 naming the file when the request is not JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-explain-'));
    await writeFile(join(dir, 'policies.yaml'), POLICIES);
    await writeFile(join(dir, 'config.yaml'), 'policy:\n  paths: [policies.yaml]\n');
    await writeFile(join(dir, 'r.json'), '{nope');
    const out = await capture(() =>
      explainCommand.run(['--config', join(dir, 'config.yaml'), '--request', join(dir, 'r.json')]),
    );
    expect(out.code).toBe(2);
  });
});
