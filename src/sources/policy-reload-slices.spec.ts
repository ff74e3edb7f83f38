import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import { compilePolicySet, compilePolicySetInSlices } from '../policy/set.js';
import { loadPolicyPaths, parseSnapshotInSlices, readPolicySnapshot } from './policy-files.js';
import { PolicyStore } from './policy-store.js';
import { timeSlicer } from './time-slice.js';

/**
 * A large reload does not hold the event loop: it parses and compiles in slices, and Checks are answered by the
 * serving set while it runs, until the new set swaps in whole. Not timed: the proof is that Checks run (and see the
 * old set) between the reload's start and its end.
 */

const FILES = 40;
const PER_FILE = 25;

/** `FILES` files of `PER_FILE` ALLOW policies for app httpbin; every rule allows `path` under its own prefix. */
function file(f: number, path: string): string {
  const docs: string[] = [];
  for (let p = 0; p < PER_FILE; p++) {
    docs.push(
      `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p-${f}-${p}\n  namespace: foo\n` +
        `spec:\n  selector:\n    matchLabels:\n      app: httpbin\n  action: ALLOW\n  rules:\n` +
        `  - to:\n    - operation:\n        methods: ["GET"]\n        paths: ["/${f}/${p}${path}"]\n`,
    );
  }
  return docs.join('---\n');
}

const dirs: string[] = [];
const stores: PolicyStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function writeAll(dir: string, path: string): Promise<void> {
  for (let f = 0; f < FILES; f++) await writeFile(join(dir, `f-${String(f).padStart(3, '0')}.yaml`), file(f, path));
}

async function folder(path: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'policy-slices-'));
  dirs.push(dir);
  await writeAll(dir, path);
  return dir;
}

describe('a reload in slices', () => {
  it('answers Checks from the serving set while the whole set is reparsed and recompiled, then swaps', async () => {
    const dir = await folder('/old');
    // A zero slice: the reload yields after every file and every policy.
    const store = new PolicyStore({ paths: [dir], compile: {}, watch: false, debounceMs: 1, reloadSliceMs: 0 });
    stores.push(store);
    const first = await store.load();
    const oldPath = req({ path: '/7/3/old' });
    const newPath = req({ path: '/7/3/new' });
    expect(first.evaluate(WORKLOAD, oldPath).allowed).toBe(true);
    expect(first.evaluate(WORKLOAD, newPath).allowed).toBe(false);

    await writeAll(dir, '/new');
    const seen: { generation: number; oldAllowed: boolean; newAllowed: boolean }[] = [];
    let done = false;
    const reload = store.reload().then(() => {
      done = true;
    });
    // A Check on every turn of the event loop until the reload is over.
    const answered = new Promise<void>((resolve) => {
      const tick = () => {
        const set = store.current()!;
        seen.push({
          generation: set.generation,
          oldAllowed: set.evaluate(WORKLOAD, oldPath).allowed,
          newAllowed: set.evaluate(WORKLOAD, newPath).allowed,
        });
        if (done) resolve();
        else setImmediate(tick);
      };
      setImmediate(tick);
    });
    await Promise.all([reload, answered]);

    const during = seen.filter((s) => s.generation === 1);
    expect(during.length).toBeGreaterThan(0);
    // Until the swap, every Check saw the old set whole; after it, the new set whole: never a mix.
    expect(during.every((s) => s.oldAllowed && !s.newAllowed)).toBe(true);
    const after = seen.filter((s) => s.generation === 2);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((s) => !s.oldAllowed && s.newAllowed)).toBe(true);
    expect(store.generation).toBe(2);
  });

  it('a Check resolves before a large reload does', async () => {
    const dir = await folder('/old');
    const store = new PolicyStore({ paths: [dir], compile: {}, watch: false, debounceMs: 1 });
    stores.push(store);
    await store.load();
    await writeAll(dir, '/new');
    const order: string[] = [];
    const reload = store.reload().then(() => order.push('reload'));
    const check = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      order.push(store.current()!.evaluate(WORKLOAD, req({ path: '/1/1/old' })).allowed ? 'check (old set)' : 'x');
    });
    await Promise.all([reload, check]);
    expect(order).toEqual(['check (old set)', 'reload']);
  });

  it('lets a Check waiting on the event loop run before the compile of a large set is over', async () => {
    const dir = await folder('/p');
    const { policies } = await loadPolicyPaths([dir]);
    const old = compilePolicySet([], {}, 1);
    for (const slice of [0, Number.POSITIVE_INFINITY]) {
      const order: string[] = [];
      // Queued before the compile starts: without slices it could only run once the whole compile is done (and
      // after the compile's own promise settles, a microtask).
      const check = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        order.push(old.evaluate(WORKLOAD, req({ path: '/1/1/p' })).allowed ? 'check' : 'check (denied)');
      });
      const compiled = compilePolicySetInSlices(policies, {}, 2, old, timeSlicer(slice)).then(() => {
        order.push('compiled');
      });
      await Promise.all([check, compiled]);
      expect(order).toEqual(slice === 0 ? ['check', 'compiled'] : ['compiled', 'check']);
    }
  });

  it('gives the same policies and decisions as a parse and compile in one pass', async () => {
    const dir = await folder('/p');
    const snapshot = await readPolicySnapshot([dir]);
    let pauses = 0;
    const yielder = () => {
      pauses++;
      return pauses % 3 === 0 ? new Promise<void>((r) => setImmediate(r)) : undefined;
    };
    const sliced = await parseSnapshotInSlices(snapshot, undefined, yielder);
    const whole = await loadPolicyPaths([dir]);
    expect(sliced.parsed.policies.map((p) => p.policy)).toEqual(whole.policies.map((p) => p.policy));
    expect(sliced.parsed.issues).toEqual(whole.issues);
    const a = await compilePolicySetInSlices(sliced.parsed.policies, {}, 1, null, yielder);
    const b = compilePolicySet(whole.policies, {}, 1);
    for (const path of ['/0/0/p', '/39/24/p', '/39/25/p', '/x']) {
      expect(a.evaluate(WORKLOAD, req({ path }))).toEqual(b.evaluate(WORKLOAD, req({ path })));
    }
    expect(pauses).toBe(FILES + FILES * PER_FILE);
  });
});
