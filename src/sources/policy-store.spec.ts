import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import { PolicyLoadError } from '../policy/model.js';
import { PolicyStore, type ReloadEvent } from './policy-store.js';

const doc = (action: string) =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\n  namespace: foo\nspec:\n  action: ${action}\n  rules:\n  - {}\n`;

const stores: PolicyStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

async function setup(text: string, watch: boolean, extra: { allowEmpty?: boolean; emptyFileGraceMs?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'policy-store-'));
  const file = join(dir, 'p.yaml');
  await writeFile(file, text);
  const events: ReloadEvent[] = [];
  let notify: (() => void) | null = null;
  const store = new PolicyStore({
    paths: [dir],
    compile: {},
    watch,
    debounceMs: 20,
    emptyFileGraceMs: 100,
    ...extra,
    onReload: (e) => {
      events.push(e);
      notify?.();
    },
  });
  stores.push(store);
  const nextEvent = () =>
    new Promise<void>((resolve) => {
      notify = resolve;
    });
  return { dir, file, store, events, nextEvent };
}

describe('PolicyStore', () => {
  it('loads, then reloads atomically with a new generation', async () => {
    const { file, store, events } = await setup(doc('ALLOW'), false);
    await store.load();
    expect(store.generation).toBe(1);
    expect(store.current()!.evaluate(WORKLOAD, req()).allowed).toBe(true);
    await writeFile(file, doc('DENY'));
    await store.reload();
    expect(events[0]).toMatchObject({ ok: true, generation: 2 });
    expect(store.current()!.generation).toBe(2);
    expect(store.current()!.evaluate(WORKLOAD, req()).allowed).toBe(false);
  });

  it('refuses an invalid change and keeps serving the last good set', async () => {
    const { file, store, events } = await setup(doc('ALLOW'), false);
    const first = await store.load();
    await writeFile(file, doc('PERMIT'));
    await store.reload();
    expect(events[0]).toMatchObject({ ok: false, generation: 1 });
    expect((events[0] as unknown as { issues: { code: string }[] }).issues[0]?.code).toBe('invalid_action');
    expect(store.current()).toBe(first);
  });

  it('throws PolicyLoadError on an invalid initial load', async () => {
    const { store } = await setup(doc('DENY').replace('  rules:\n  - {}\n', ''), false);
    await expect(store.load()).rejects.toBeInstanceOf(PolicyLoadError);
    expect(store.current()).toBeNull();
  });

  it('watches the folder and reloads when a file changes', async () => {
    const { dir, store, events, nextEvent } = await setup(doc('ALLOW'), true);
    await store.load();
    const reloaded = nextEvent();
    await writeFile(join(dir, 'q.yaml'), doc('DENY').replace('name: p', 'name: q'));
    await reloaded;
    expect(events.at(-1)).toMatchObject({ ok: true, policies: 2 });
    expect(store.current()!.evaluate(WORKLOAD, req()).code).toBe('deny_matched');
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a reload that drops every policy of a namespace, reports it once, and keeps the last good set', async () => {
    const { dir, file, store, events } = await setup(doc('ALLOW'), false, { emptyFileGraceMs: 30 });
    const first = await store.load();
    await writeFile(file, '');
    await store.reload();
    await store.reload();
    expect(events).toEqual([
      { ok: false, generation: 1, issues: [], refused: { reason: 'drops_namespace', namespaces: ['foo'] } },
    ]);
    expect(store.current()).toBe(first);
    // A deleted file is the same drop; a different refused content is reported again.
    await rm(file);
    await store.reload();
    expect(events).toHaveLength(2);
    expect(store.current()).toBe(first);
    // The other side: content that keeps the namespace applies.
    await writeFile(file, doc('DENY'));
    await store.reload();
    expect(events.at(-1)).toMatchObject({ ok: true, generation: 2 });
    await rm(dir, { recursive: true, force: true });
  });

  it('applies the drop with allowEmpty: true', async () => {
    const { file, store, events } = await setup(doc('ALLOW'), false, { allowEmpty: true, emptyFileGraceMs: 30 });
    await store.load();
    await writeFile(file, '');
    await store.reload();
    expect(events.at(-1)).toMatchObject({ ok: true, policies: 0 });
  });

  it('waits out a file that became empty: rewritten within the grace period, the empty state never serves', async () => {
    const { dir, store, events } = await setup(doc('ALLOW'), false, { emptyFileGraceMs: 400 });
    const other = join(dir, 'q.yaml');
    const q = doc('DENY').replace('name: p', 'name: q');
    await writeFile(other, q);
    await store.load();
    await writeFile(other, '');
    const reloading = store.reload();
    await writeFile(other, q);
    await reloading;
    // The namespace keeps policy p, so only stability protected q; the set that lost q was never applied.
    expect(events.every((e) => !e.ok || e.policies === 2)).toBe(true);
    expect(store.current()!.policies).toHaveLength(2);
    // The other side: an emptied file that stays empty past the grace period applies.
    await writeFile(other, '');
    await store.reload();
    expect(events.at(-1)).toMatchObject({ ok: true, policies: 1 });
  });
});
