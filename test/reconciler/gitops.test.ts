import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { reconcileCommand } from '../../src/cli/reconcile.js';

/** `mesh-authz reconcile --from --out [--check] [--diff]`: idempotence, pruning, ownership, CI check. */

let dir: string;
let input: string;
let out: string;
let stdout: string;
let stderr: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mesh-authz-gitops-'));
  input = join(dir, 'manifests');
  out = join(dir, 'out');
  mkdirSync(input);
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    stdout += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    stderr += String(s);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

function svc(name: string, annotations: Record<string, string> | null): string {
  const ann = annotations
    ? `\n  annotations:\n${Object.entries(annotations)
        .map(([k, v]) => `    ${k}: "${v}"`)
        .join('\n')}`
    : '';
  return `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n  namespace: shop${ann}\nspec:\n  selector: { app: ${name} }\n`;
}

function writeInput(...docs: string[]): void {
  writeFileSync(join(input, 'services.yaml'), docs.join('---\n'));
}

function files(): Record<string, string> {
  const result: Record<string, string> = {};
  for (const sub of ['mesh', 'mesh-authz']) {
    if (!existsSync(join(out, sub))) continue;
    for (const f of readdirSync(join(out, sub))) result[`${sub}/${f}`] = readFileSync(join(out, sub, f), 'utf8');
  }
  return result;
}

const run = (...extra: string[]) => reconcileCommand.run(['--from', input, '--out', out, ...extra]);
const FROM = 'authz.mesh-authz.io/allow-from';

describe('reconcile --from --out', () => {
  it('writes policies, and a second run changes nothing', async () => {
    writeInput(
      svc('orders', { [FROM]: 'shop/web' }),
      svc('ledger', { [FROM]: 'shop/web', 'authz.mesh-authz.io/allow-groups': 'x' }),
    );
    expect(await run()).toBe(0);
    const first = files();
    expect(Object.keys(first).sort()).toEqual([
      'mesh-authz/shop.mesh-authz-ledger-server.yaml',
      'mesh/shop.mesh-authz-ledger-custom.yaml',
      'mesh/shop.mesh-authz-ledger.yaml',
      'mesh/shop.mesh-authz-orders.yaml',
    ]);
    expect(stderr).toContain('4 created, 0 updated, 0 removed');
    stderr = '';
    expect(await run()).toBe(0);
    expect(stderr).toContain('0 created, 0 updated, 0 removed');
    expect(files()).toEqual(first);
    expect(await run('--check')).toBe(0);
  });

  it('--check fails on an out-of-date folder and writes nothing; --diff shows the change', async () => {
    writeInput(svc('orders', { [FROM]: 'shop/web' }));
    expect(await run('--check')).toBe(1);
    expect(stderr).toContain('out of date: create mesh/shop.mesh-authz-orders.yaml');
    expect(files()).toEqual({});
    expect(await run('--diff')).toBe(0);
    expect(stdout).toContain('+++ b/mesh/shop.mesh-authz-orders.yaml');
    expect(stdout).toContain('+              - cluster.local/ns/shop/sa/web');
    expect(files()).toEqual({});
    await run();
    writeInput(svc('orders', { [FROM]: 'shop/api' }));
    stdout = '';
    expect(await run('--check', '--diff')).toBe(1);
    expect(stdout).toContain('-              - cluster.local/ns/shop/sa/web');
    expect(stdout).toContain('+              - cluster.local/ns/shop/sa/api');
  });

  it('prunes owned files whose Service is gone or unannotated, and never touches files it does not own', async () => {
    writeInput(svc('orders', { [FROM]: 'shop/web' }), svc('cart', { [FROM]: 'shop/web' }));
    await run();
    const mine =
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: hand-written, namespace: shop }\nspec: {}\n';
    writeFileSync(join(out, 'mesh', 'shop.hand-written.yaml'), mine);
    writeInput(svc('orders', null));
    expect(await run()).toBe(0);
    expect(Object.keys(files())).toEqual(['mesh/shop.hand-written.yaml']);
    expect(files()['mesh/shop.hand-written.yaml']).toBe(mine);
    expect(stderr).toContain('0 created, 0 updated, 2 removed');
  });

  it('restores a hand-edited owned file', async () => {
    writeInput(svc('orders', { [FROM]: 'shop/web' }));
    await run();
    const good = files();
    const path = join(out, 'mesh', 'shop.mesh-authz-orders.yaml');
    writeFileSync(path, readFileSync(path, 'utf8').replace('sa/web', 'sa/attacker'));
    expect(await run('--check')).toBe(1);
    await run();
    expect(files()).toEqual(good);
  });

  it('keeps the last good policy of a Service whose annotations broke, reports it, and writes the others', async () => {
    writeInput(svc('orders', { [FROM]: 'shop/web' }));
    await run();
    const good = files();
    writeInput(
      svc('orders', { [FROM]: 'shop/web', 'authz.mesh-authz.io/mode': 'audit' }),
      svc('cart', { [FROM]: 'shop/web' }),
    );
    expect(await run()).toBe(1);
    expect(stderr).toContain(
      "Service shop/orders: authz.mesh-authz.io/mode: 'audit': expected one of enforce, dry-run",
    );
    const now = files();
    // Removing it would leave the workload with no ALLOW policy, i.e. open to all: a typo must not widen access.
    expect(now['mesh/shop.mesh-authz-orders.yaml']).toBe(good['mesh/shop.mesh-authz-orders.yaml']);
    expect(now['mesh/shop.mesh-authz-cart.yaml']).toBeDefined();
  });

  it('refuses to overwrite an unowned file at a generated path', async () => {
    writeInput(svc('orders', { [FROM]: 'shop/web' }));
    mkdirSync(join(out, 'mesh'), { recursive: true });
    writeFileSync(join(out, 'mesh', 'shop.mesh-authz-orders.yaml'), '# mine\n');
    expect(await run()).toBe(1);
    expect(stderr).toContain('is not managed by mesh-authz; left untouched');
    expect(readFileSync(join(out, 'mesh', 'shop.mesh-authz-orders.yaml'), 'utf8')).toBe('# mine\n');
  });

  it('applies the trust domain, provider and default-deny flags', async () => {
    writeInput(svc('orders', { [FROM]: 'shop/web', 'authz.mesh-authz.io/enforce-in': 'both' }));
    expect(await run('--trust-domain', 'prod.example', '--provider', 'ext-authz', '--default-deny')).toBe(0);
    const f = files();
    expect(f['mesh/shop.mesh-authz-orders.yaml']).toContain('prod.example/ns/shop/sa/web');
    expect(f['mesh/shop.mesh-authz-orders-custom.yaml']).toContain('name: ext-authz');
    expect(f['mesh/shop.mesh-authz-default-deny.yaml']).toContain('action: ALLOW');
  });

  it('reports bad input with the file and line', async () => {
    writeFileSync(join(input, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: [\n');
    expect(await run()).toBe(2);
    expect(stderr).toMatch(/broken\.yaml:[34]: YAML syntax error/);
  });
});
