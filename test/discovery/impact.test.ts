import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { UsageError } from '../../src/cli/args.js';
import { impactCommand } from '../../src/cli/impact.js';
import type { ImpactReport } from '../../src/discovery/impact.js';
import { workloadResolver } from '../../src/discovery/impact.js';
import type { PolicyEntry } from '../../src/discovery/policy-model.js';
import { currentPolicies, recordShop, workloads } from './shop.js';

/**
 * `mesh-authz impact` on the recorded shop (test/discovery/shop.ts: ingress → web → api → db, a batch job in
 * `jobs`, a stray caller in `sandbox`): a tightening change shows the outage it would cause and fails the gate, a
 * loosening one shows the access it would open, and bad input exits 2.
 */

let dir: string;
let flowsFile: string;
let configFile: string;

function capture(): { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  return { out: () => out.join(''), err: () => err.join('') };
}

const yaml = (entries: readonly PolicyEntry[]) => entries.map((e) => stringify(e.policy)).join('---\n');

/** A proposed policy folder holding `entries`. */
function proposal(name: string, entries: readonly PolicyEntry[]): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'policies.yaml'), yaml(entries));
  return d;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'impact-'));
  ({ file: flowsFile } = await recordShop());
  writeFileSync(join(dir, 'policies.yaml'), yaml(currentPolicies));
  configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, stringify({ policy: { paths: ['policies.yaml'], workloads } }));
});

afterEach(() => {
  vi.restoreAllMocks();
});

const [shopNamespaces, dbLockdown] = currentPolicies as [PolicyEntry, PolicyEntry];

/** Tightening: `jobs` loses its namespace rule, and the staged db lockdown is enforced. */
const tightened: PolicyEntry[] = [
  {
    ...shopNamespaces,
    policy: {
      ...shopNamespaces.policy,
      spec: { ...shopNamespaces.policy.spec, rules: shopNamespaces.policy.spec.rules!.filter((_, i) => i !== 1) },
    },
  },
  {
    ...dbLockdown,
    dryRun: false,
    policy: { ...dbLockdown.policy, metadata: { name: 'db-lockdown', namespace: 'shop' } },
  },
];

/** Loosening: the sandbox namespace is let in. */
const loosened: PolicyEntry[] = [
  ...currentPolicies,
  {
    ...shopNamespaces,
    policy: {
      ...shopNamespaces.policy,
      metadata: { name: 'sandbox-in', namespace: 'shop' },
      spec: { action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['sandbox'] } }] }] },
    },
  },
];

const run = (...args: string[]) => impactCommand.run(['--config', configFile, '--flows', flowsFile, ...args]);

describe('mesh-authz impact', () => {
  it('a tightening change: lists the newly denied flows with both deciders and fails the gate', async () => {
    const io = capture();
    const code = await run('--proposed', proposal('tight', tightened), '--format', 'json');
    expect(io.err()).toBe('');
    expect(code).toBe(1);
    const r = JSON.parse(io.out()) as ImpactReport & { blocked: boolean; maxNewDenies: number };
    expect(r.blocked).toBe(true);
    expect(r.maxNewDenies).toBe(0);
    expect(r.newlyDenied).toEqual([
      {
        caller: 'jobs/batch',
        callee: 'shop/api',
        operation: 'POST /internal/reindex:9090',
        flows: 1,
        requests: 3,
        before: ['shop/shop-namespaces rule 1'],
        after: ['default deny (no_allow_matched)'],
      },
    ]);
    // The db lockdown, now enforced, still admits api (the flows it was staged against): no other change.
    expect(r.newlyAllowed).toEqual([]);
    expect(r.unchanged).toBe(7);
    expect(r.newlyDeniedRequests).toBe(3);
  });

  it('the gate tolerates up to --max-new-denies; text output names the outage', async () => {
    const io = capture();
    const code = await run('--proposed', proposal('tight2', tightened), '--max-new-denies', '1');
    expect(code).toBe(0);
    expect(io.out()).toContain('1 newly denied (3 requests), 0 newly allowed (0 requests), 7 unchanged');
    expect(io.out()).toContain(
      'jobs/batch -> shop/api POST /internal/reindex:9090: 3 requests in 1 flows; before: shop/shop-namespaces rule 1; after: default deny (no_allow_matched)',
    );
  });

  it('a loosening change: lists the newly allowed flows, passes the gate, Markdown for a pull request', async () => {
    const io = capture();
    const code = await run('--proposed', proposal('loose', loosened), '--format', 'markdown');
    expect(code).toBe(0);
    const md = io.out();
    expect(md).toMatch(/^### ⚠️ mesh-authz impact/);
    expect(md).toContain('#### Newly allowed');
    expect(md).not.toContain('#### Newly denied');
    expect(md).toContain(
      '| sandbox/stray | shop/db | `POST /query:5432` | 4 | 1 | default deny (no_allow_matched) | shop/sandbox-in rule 0 |',
    );
  });

  it('no change: nothing listed, exit 0', async () => {
    const io = capture();
    expect(await run('--proposed', join(dir, 'policies.yaml'), '--format', 'markdown')).toBe(0);
    expect(io.out()).toContain('No recorded flow changes its decision.');
  });

  it('bad input exits 2 with the file and line; bad options are usage errors', async () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(
      join(bad, 'p.yaml'),
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: x, namespace: shop}\nspec:\n  action: ALLOW\n  rules:\n  - to: [{operation: {paths: ["/a/{x}"]}}]\n',
    );
    let io = capture();
    expect(await run('--proposed', bad)).toBe(2);
    expect(io.err()).toMatch(/the proposed policies do not load:\n.*p\.yaml:\d+/);
    vi.restoreAllMocks();
    io = capture();
    expect(
      await impactCommand.run([
        '--config',
        configFile,
        '--flows',
        join(dir, 'missing.jsonl'),
        '--proposed',
        join(dir, 'policies.yaml'),
      ]),
    ).toBe(2);
    expect(io.err()).toContain('missing.jsonl');
    await expect(run('--proposed', bad, '--max-new-denies', '-1')).rejects.toThrow(UsageError);
    await expect(run('--proposed', bad, '--format', 'html')).rejects.toThrow(UsageError);
    await expect(impactCommand.run(['--flows', flowsFile, '--proposed', bad])).rejects.toThrow('--config');
  });
});

describe('workload resolution', () => {
  it('uses the full labels of the one known workload that carries the recorded ones, else the recorded labels', () => {
    const resolve = workloadResolver([
      { namespace: 'shop', labels: { app: 'api', version: 'v2' } },
      { namespace: 'shop', labels: { app: 'db', version: 'v1' } },
      { namespace: 'shop', labels: { app: 'db', version: 'v2' } },
    ]);
    const flow = (labels: Record<string, string>) =>
      ({ destination: { namespace: 'shop', workload: 'x', labels } }) as Parameters<typeof resolve>[0];
    expect(resolve(flow({ app: 'api' })).labels).toEqual({ app: 'api', version: 'v2' });
    expect(resolve(flow({ app: 'db' })).labels).toEqual({ app: 'db' });
    expect(resolve(flow({})).labels).toEqual({});
  });
});

describe('impact evaluates as serve does', () => {
  it("uses the config's path normalization: a `//` path recorded under BASE", async () => {
    const d = mkdtempSync(join(tmpdir(), 'impact-norm-'));
    const flow = {
      type: 'flow',
      source: {
        spiffeId: 'spiffe://cluster.local/ns/ops/sa/cron',
        trustDomain: 'cluster.local',
        namespace: 'ops',
        serviceAccount: 'cron',
      },
      destination: { namespace: 'ops', workload: 'jobs', labels: { app: 'jobs' } },
      port: 8080,
      method: 'GET',
      path: '//v1/jobs/5',
      groups: [],
      count: 2,
      decisions: { allowed: 2, denied: 0, wouldDeny: 0, shadowDenied: 0 },
      policy: '',
      firstSeen: '2026-06-01T00:00:00.000Z',
      lastSeen: '2026-06-01T00:00:00.000Z',
    };
    writeFileSync(join(d, 'flows.jsonl'), `${JSON.stringify(flow)}\n`);
    writeFileSync(join(d, 'none.yaml'), '');
    const proposed = join(d, 'proposed.yaml');
    writeFileSync(
      proposed,
      stringify({
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'jobs', namespace: 'ops' },
        spec: {
          selector: { matchLabels: { app: 'jobs' } },
          rules: [{ to: [{ operation: { methods: ['GET'], paths: ['/v1/jobs/{*}'] } }] }],
        },
      }),
    );
    const impact = async (pathNormalization: string) => {
      const config = join(d, `${pathNormalization}.yaml`);
      writeFileSync(config, stringify({ policy: { paths: ['none.yaml'], pathNormalization } }));
      const io = capture();
      const code = await impactCommand.run([
        '--config',
        config,
        '--flows',
        join(d, 'flows.jsonl'),
        '--proposed',
        proposed,
        '--format',
        'json',
      ]);
      vi.restoreAllMocks();
      return { code, report: JSON.parse(io.out()) as ImpactReport };
    };
    // BASE keeps `//`: the template does not match, the change would deny the job runner.
    const base = await impact('BASE');
    expect(base.code).toBe(1);
    expect(base.report.newlyDenied.map((c) => c.operation)).toEqual(['GET //v1/jobs/5:8080']);
    // MERGE_SLASHES merges it first: the same change denies nothing.
    const merged = await impact('MERGE_SLASHES');
    expect(merged.code).toBe(0);
    expect(merged.report.newlyDenied).toEqual([]);
  });
});
