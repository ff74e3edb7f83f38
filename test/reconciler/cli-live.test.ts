import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type BuiltCli, buildCli, runCli } from '../support/built-cli.js';
import { FakeKubeApi } from '../support/fake-kube-api.js';

/** `mesh-authz reconcile --kube` as a real process against the stand-in API server: starts, applies, stops on SIGTERM. */

describe('mesh-authz reconcile --kube (process)', () => {
  let cli: BuiltCli;
  let fake: FakeKubeApi;
  const dir = mkdtempSync(join(tmpdir(), 'mesh-authz-cli-live-'));

  beforeAll(async () => {
    cli = buildCli('reconcile-live');
    fake = new FakeKubeApi();
    await fake.start();
  });
  afterAll(async () => {
    await fake.stop();
    cli.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reconciles, serves readiness and metrics, and exits 0 on SIGTERM', async () => {
    fake.put({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'orders', namespace: 'shop', annotations: { 'authz.mesh-authz.io/allow-from': 'shop/web' } },
      spec: { selector: { app: 'orders' } },
    });
    const kubeconfig = join(dir, 'config');
    writeFileSync(kubeconfig, stringify(fake.kubeconfig('t')));
    const run = runCli(cli, ['reconcile', '--kube', '--kubeconfig', kubeconfig, '--listen', '127.0.0.1:0']);
    try {
      const [, port] = await run.waitForOutput(/health and metrics on 127\.0\.0\.1:(\d+)/);
      await run.waitForOutput(/"msg":"applied","policy":"shop\/mesh-authz-orders"/);
      expect(fake.get('AuthorizationPolicy', 'shop', 'mesh-authz-orders')).toBeDefined();
      let ready = 0;
      for (let i = 0; i < 200 && ready !== 200; i++) {
        ready = (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
        if (ready !== 200) await new Promise((r) => setTimeout(r, 20));
      }
      expect(ready).toBe(200);
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain(
        'mesh_authz_reconcile_applied_total',
      );
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exit).toBe(0);
  });
});
