import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import { compilePolicySet, type PolicySet } from '../policy/set.js';
import { loadPolicyPaths } from './policy-files.js';
import { PolicyStore } from './policy-store.js';

/** A reload of one changed file reuses every other file's parsed and compiled policies, and equals a full compile. */

const policy = (name: string, action: string, path: string) =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ${name}\n  namespace: foo\n` +
  `spec:\n  selector:\n    matchLabels:\n      app: httpbin\n  action: ${action}\n  rules:\n` +
  `  - to:\n    - operation:\n        paths: ["${path}"]\n`;

const two = (prefix: string, path: string) =>
  `${policy(`${prefix}-allow`, 'ALLOW', path)}---\n${policy(`${prefix}-deny`, 'DENY', `${path}/admin`)}`;

const dirs: string[] = [];
const stores: PolicyStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'policy-reload-'));
  dirs.push(dir);
  await writeFile(join(dir, 'a.yaml'), two('a', '/a'));
  await writeFile(join(dir, 'b.yaml'), two('b', '/b'));
  const store = new PolicyStore({ paths: [dir], compile: { trustDomain: 'cluster.local' }, watch: false });
  stores.push(store);
  return { dir, store, first: await store.load() };
}

const PATHS = ['/a', '/a/admin', '/b', '/b/admin', '/c', '/c/admin', '/x'];

/** Every decision of the probe paths, for comparing two sets. */
const decisions = (set: PolicySet) => PATHS.map((path) => set.evaluate(WORKLOAD, req({ path })));

describe('PolicyStore reload of one file', () => {
  it('reuses the unchanged file and recompiles only the changed one', async () => {
    const { dir, store, first } = await setup();
    const compiledBefore = first.planFor(WORKLOAD).policies;
    await writeFile(join(dir, 'b.yaml'), two('b', '/c'));
    await store.reload();
    const second = store.current()!;
    expect(second.generation).toBe(2);
    const fromA = (s: PolicySet) => s.policies.filter((p) => p.source.file.endsWith('a.yaml'));
    const fromB = (s: PolicySet) => s.policies.filter((p) => p.source.file.endsWith('b.yaml'));
    expect(fromA(second)).toHaveLength(2);
    for (const [i, p] of fromA(second).entries()) expect(p).toBe(fromA(first)[i]);
    for (const [i, p] of fromB(second).entries()) expect(p).not.toBe(fromB(first)[i]);
    const compiledAfter = second.planFor(WORKLOAD).policies;
    for (const c of compiledAfter) {
      const reused = compiledBefore.includes(c);
      expect(reused).toBe(c.loaded.source.file.endsWith('a.yaml'));
    }
    // The changed file's policies took effect (must match) and the old ones are gone (must not match).
    expect(second.evaluate(WORKLOAD, req({ path: '/c' })).allowed).toBe(true);
    expect(second.evaluate(WORKLOAD, req({ path: '/b' })).allowed).toBe(false);
    expect(second.evaluate(WORKLOAD, req({ path: '/c/admin' })).code).toBe('deny_matched');
  });

  it('gives the same policies and decisions as a full compile of the same files', async () => {
    const { dir, store } = await setup();
    await writeFile(join(dir, 'a.yaml'), two('a', '/x'));
    await store.reload();
    const incremental = store.current()!;
    const full = compilePolicySet((await loadPolicyPaths([dir])).policies, { trustDomain: 'cluster.local' }, 2);
    expect(incremental.policies).toEqual(full.policies);
    expect(decisions(incremental)).toEqual(decisions(full));
    expect(incremental.planFor(WORKLOAD).policies.map((c) => c.ref)).toEqual(
      full.planFor(WORKLOAD).policies.map((c) => c.ref),
    );
  });

  it('does not reuse a refused change: fixing it back parses the file again', async () => {
    const { dir, store, first } = await setup();
    await writeFile(join(dir, 'b.yaml'), two('b', '/b').replace('action: DENY', 'action: PERMIT'));
    await store.reload();
    expect(store.current()).toBe(first);
    await writeFile(join(dir, 'b.yaml'), two('b', '/b'));
    await store.reload();
    const third = store.current()!;
    expect(third.generation).toBe(2);
    // b.yaml is back to its first text: its parse from the first load is reused, not the refused one.
    expect(third.policies).toEqual(first.policies);
    expect(decisions(third)).toEqual(decisions(first));
  });

  it('recompiles everything when the compile options differ', async () => {
    const { dir, first } = await setup();
    const parsed = await loadPolicyPaths([dir]);
    const other = compilePolicySet(parsed.policies, { trustDomain: 'other.local' }, 2, first);
    const reusedAny = other.planFor(WORKLOAD).policies.some((c) => first.planFor(WORKLOAD).policies.includes(c));
    expect(reusedAny).toBe(false);
  });
});
