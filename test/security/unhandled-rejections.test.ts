import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultOptions, LiveReconciler } from '../../src/reconciler/index.js';
import type { KubeApi } from '../../src/sources/kube/api.js';
import { PolicyStore } from '../../src/sources/policy-store.js';

/**
 * Issue 12 item 6: background work (policy reloads from a file watch, reconciler passes from timers) never leaves
 * a rejected promise unhandled: under Node's default that ends the process, and an authz service that is gone
 * makes Envoy deny the whole mesh. A failure is logged and the last good state keeps serving. Each test listens
 * on the process's 'unhandledRejection' event.
 */

const doc = (action: string) =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  namespace: foo\nspec:\n  action: ${action}\n  rules:\n  - {}\n`;

let unhandled: unknown[];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** Lets timers, file events and promise jobs run (unhandled rejections are reported after a macrotask). */
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await settle(25);
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
}

describe('policy reloads triggered by file watches', () => {
  it('a reload listener that throws: no unhandled rejection, the new set is served', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unhandled-'));
    const file = join(dir, 'p.yaml');
    await writeFile(file, doc('ALLOW'));
    let calls = 0;
    const store = new PolicyStore({
      paths: [dir],
      compile: {},
      watch: true,
      debounceMs: 20,
      onReload: () => {
        calls++;
        throw new Error('metrics exporter broke');
      },
    });
    try {
      await store.load();
      await writeFile(file, doc('DENY'));
      await waitFor(() => calls > 0, 'the watched reload');
      await settle(50);
      expect(unhandled).toEqual([]);
      expect(store.generation).toBe(2);
    } finally {
      store.close();
    }
  });

  it('a reload that fails unexpectedly: refused and reported, the last good set keeps serving', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unhandled-'));
    const file = join(dir, 'p.yaml');
    await writeFile(file, doc('ALLOW'));
    const events: { ok: boolean; issues?: readonly { message: string }[] }[] = [];
    const store = new PolicyStore({
      paths: [dir],
      compile: {},
      watch: true,
      debounceMs: 20,
      onReload: (e) => events.push(e),
    });
    try {
      const first = await store.load();
      // Stand-in for an unexpected failure inside a reload (an I/O or compiler bug): the private build step throws.
      (store as unknown as { build: () => Promise<never> }).build = async () => {
        throw new Error('disk on fire');
      };
      await writeFile(file, doc('DENY'));
      await waitFor(() => events.length > 0, 'the watched reload');
      await settle(50);
      expect(unhandled).toEqual([]);
      expect(events[0]?.ok).toBe(false);
      expect(events[0]?.issues?.[0]?.message).toContain('disk on fire');
      expect(store.current()).toBe(first);
    } finally {
      store.close();
    }
  });
});

describe('reconciler passes triggered by timers', () => {
  it('a pass whose failure handling throws: no unhandled rejection, the next pass still runs', async () => {
    let lists = 0;
    // A stand-in Kubernetes API that fails every list (the reconciler's own tests use the fake API server).
    const api = {
      list: async () => {
        lists++;
        throw new Error('apiserver unavailable');
      },
    } as unknown as KubeApi;
    const reconciler = new LiveReconciler(api, {
      ...defaultOptions,
      namespaces: [],
      fieldManager: 'mesh-authz',
      authzNamespace: 'mesh-authz',
      configMapName: 'mesh-authz-generated',
      debounceMs: 5,
      resyncMs: 0,
      log: () => {
        throw new Error('log sink closed');
      },
      backoffMs: () => 20,
    });
    try {
      reconciler.schedule();
      await waitFor(() => lists >= 2, 'a retried pass');
      await settle(50);
      expect(unhandled).toEqual([]);
    } finally {
      await reconciler.stop();
    }
  });
});
