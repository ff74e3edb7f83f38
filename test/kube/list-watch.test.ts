import { afterEach, describe, expect, it } from 'vitest';
import { createKubeApi, defaultBackoff, ListWatch, Resources } from '../../src/sources/kube/index.js';
import { pod, startFake, until } from './support.js';

/** The informer loop itself against the stand-in API server (test/support/fake-kube-api.ts): backoff and resync. */

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('ListWatch', () => {
  it('backs off exponentially while the API server is down, and starts again from 0 after a working watch', async () => {
    const fake = await startFake(cleanup);
    const port = Number(new URL(fake.url).port);
    const api = createKubeApi(fake.connection());
    await fake.stop();
    const attempts: number[] = [];
    const lw = new ListWatch(
      api,
      Resources.pod,
      null,
      { onChange: () => {}, onRestart: () => {} },
      {
        backoffMs: (n) => {
          attempts.push(n);
          return 5;
        },
      },
    );
    const run = lw.run();
    cleanup.push(async () => {
      lw.stop();
      await run;
    });
    await until(() => attempts.length >= 4, 'retries');
    expect(attempts.slice(0, 4)).toEqual([0, 1, 2, 3]);
    fake.put(pod('a', 'shop', { ip: '10.0.0.1' }));
    await fake.start(port);
    await until(() => lw.synced && lw.items.size === 1, 'synced');
    fake.put(pod('b', 'shop', { ip: '10.0.0.2' }));
    await until(() => lw.items.size === 2, 'watch event');
    const before = attempts.length;
    await fake.stop();
    await until(() => attempts.length > before, 'retry after the break');
    expect(attempts[before]).toBe(0);
    // The default doubles from 200 ms and stops at 30 s.
    expect([0, 1, 2, 7, 8, 20].map(defaultBackoff)).toEqual([200, 400, 800, 25_600, 30_000, 30_000]);
  });

  it('resyncs: consumers are told to re-derive their state without any event', async () => {
    const fake = await startFake(cleanup);
    fake.put(pod('a', 'shop', { ip: '10.0.0.1' }));
    let changes = 0;
    const lw = new ListWatch(
      createKubeApi(fake.connection()),
      Resources.pod,
      null,
      { onChange: () => changes++, onRestart: () => {} },
      { resyncMs: 10 },
    );
    const run = lw.run();
    cleanup.push(async () => {
      lw.stop();
      await run;
    });
    await until(() => lw.synced, 'synced');
    const after = changes;
    await until(() => changes >= after + 3, 'resyncs');
    expect(fake.requests.filter((r) => r.path === '/api/v1/pods' && r.query['watch'] === undefined)).toHaveLength(1);
  });
});
