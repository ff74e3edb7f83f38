import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { auditCommand } from '../../src/cli/audit.js';
import { discoverCommand } from '../../src/cli/discover.js';
import type { AuditReport } from '../../src/discovery/audit.js';
import { currentPolicies, recordShop, workloads } from './shop.js';

/** The two commands end to end: config file + policy files + a recorded flows file → outputs and exit codes. */

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

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'discover-cli-'));
  ({ file: flowsFile } = await recordShop());
  writeFileSync(join(dir, 'policies.yaml'), currentPolicies.map((e) => stringify(e.policy)).join('---\n'));
  configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, stringify({ policy: { paths: ['policies.yaml'], workloads } }));
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('mesh-authz discover', () => {
  it('writes policies, report, map (Mermaid, DOT, SVG) and prints the surface figure', async () => {
    const io = capture();
    const out = join(dir, 'out-op');
    const code = await discoverCommand.run([
      '--flows',
      flowsFile,
      '--granularity',
      'operation',
      '--config',
      configFile,
      '--out',
      out,
    ]);
    expect(io.err()).toBe('');
    expect(code).toBe(0);
    expect(io.out()).toContain('attack surface: 27 → 16 allowed caller→workload pairs (11 fewer, 40.7%)');
    expect(io.out()).toContain('would be denied: sandbox/stray -> shop/db POST /query');
    for (const f of ['policies.yaml', 'report.md', 'report.json', 'map.mmd', 'map.dot', 'map.svg']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('| shop/db | 2 | 74 | 1 | 1 |');
    expect(report).toContain('shop/shop-namespaces rule 3');
  });

  it('rejects bad input with exit 2 and a file:line message', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"type":"flow","source":{}}\n');
    const io = capture();
    expect(await discoverCommand.run(['--flows', bad])).toBe(2);
    expect(io.err()).toMatch(/bad\.jsonl:1: source\.spiffeId/);
    await expect(discoverCommand.run(['--flows', flowsFile, '--granularity', 'pod'])).rejects.toThrow(/granularity/);
    await expect(discoverCommand.run([])).rejects.toThrow(/--flows is required/);
  });
});

describe('mesh-authz audit', () => {
  it('reports as JSON and fails below the coverage threshold', async () => {
    const io = capture();
    const code = await auditCommand.run(['--config', configFile, '--flows', flowsFile, '--format', 'json']);
    expect(code).toBe(1);
    const report = JSON.parse(io.out()) as AuditReport;
    expect(report.coverage).toMatchObject({ workloads: 5, covered: 3, ratio: 0.6 });
    expect(report.passed).toBe(false);
    expect(report.unusedRules).toEqual([{ policy: 'shop/shop-namespaces', ruleIndex: 3 }]);
    expect(report.longDryRun).toEqual([
      expect.objectContaining({ policy: 'shop/db-lockdown', since: '2026-01-15T00:00:00Z', tooLong: true }),
    ]);
  });

  it('passes at a threshold the coverage meets, and prints text', async () => {
    const io = capture();
    expect(await auditCommand.run(['--config', configFile, '--min-coverage', '0.6'])).toBe(0);
    expect(io.out()).toContain('coverage: 3/5 workloads have an enforced ALLOW policy (60.0%; minimum 60.0%) — PASS');
    expect(io.out()).toContain('rules unused by flows: n/a');
    await expect(auditCommand.run(['--config', configFile, '--min-coverage', '2'])).rejects.toThrow(/min-coverage/);
  });
});
