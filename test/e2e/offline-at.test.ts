import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { checkCommand } from '../../src/cli/check.js';
import { explainCommand } from '../../src/cli/explain.js';
import { capture } from '../support/capture.js';
import { createCa, createSvid, envoyEncode } from '../support/pki.js';

/**
 * Issue 12 item 6: offline `check` and `explain` judge credential expiry at `--at <time>` (default: now), never at
 * the request's `attributes.request.time`. The certificate is valid for one hour, 2026-01-01T10:00Z to 11:00Z.
 */

const POLICY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: cart, namespace: shop }
spec:
  selector: { matchLabels: { app: cart } }
  action: ALLOW
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/shop/sa/frontend"] } }]
`;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'offline-at-'));
  const root = await createCa({ trustDomain: 'cluster.local' });
  const leaf = await createSvid(root, 'spiffe://cluster.local/ns/shop/sa/frontend', {
    notBefore: new Date('2026-01-01T10:00:00Z'),
    notAfter: new Date('2026-01-01T11:00:00Z'),
  });
  await writeFile(join(dir, 'root.pem'), root.pem);
  await writeFile(join(dir, 'policy.yaml'), POLICY);
  await writeFile(
    join(dir, 'config.yaml'),
    'policy:\n  paths: [policy.yaml]\nidentity:\n  trustBundles: [{ trustDomain: cluster.local, pem: root.pem }]\n',
  );
  const request = {
    attributes: {
      source: { certificate: envoyEncode(leaf.pem) },
      contextExtensions: { namespace: 'shop', app: 'cart' },
      // Envoy's clock says the certificate is valid: informational only.
      request: { time: '2026-01-01T10:30:00Z', http: { method: 'GET', path: '/items', headers: { ':method': 'GET' } } },
    },
  };
  await writeFile(join(dir, 'req.json'), JSON.stringify(request));
});
afterEach(() => vi.restoreAllMocks());

const args = (...extra: string[]) => [
  '--config',
  join(dir, 'config.yaml'),
  '--request',
  join(dir, 'req.json'),
  ...extra,
];

describe('check --at', () => {
  it('inside the validity window: allowed; after it, or by default (now, 2026 long past): 401', async () => {
    const inside = await capture(() => checkCommand.run(args('--at', '2026-01-01T10:15:00Z')));
    expect(JSON.parse(inside.out)).toMatchObject({ allowed: true, status: 'OK' });
    const after = await capture(() => checkCommand.run(args('--at', '2026-01-01T11:00:01Z')));
    expect(JSON.parse(after.out)).toMatchObject({ allowed: false, status: 'UNAUTHENTICATED' });
    const before = await capture(() => checkCommand.run(args('--at', '2026-01-01T09:59:00Z')));
    expect(JSON.parse(before.out)).toMatchObject({ allowed: false, status: 'UNAUTHENTICATED' });
  });

  it('without --at, the machine clock decides, not request.time', async () => {
    // request.time (10:30) is inside the window; the clock of whoever runs this test is not (after 2026-01-01).
    vi.useFakeTimers({ now: new Date('2027-01-01T00:00:00Z'), toFake: ['Date'] });
    try {
      const out = await capture(() => checkCommand.run(args()));
      expect(JSON.parse(out.out)).toMatchObject({ allowed: false, status: 'UNAUTHENTICATED' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a value that is not a time', async () => {
    await expect(checkCommand.run(args('--at', 'yesterday'))).rejects.toBeInstanceOf(UsageError);
  });
});

describe('explain --at', () => {
  it('explains the allow inside the window and the identity failure after it', async () => {
    const inside = await capture(() => explainCommand.run(args('--at', '2026-01-01T10:15:00Z', '--format', 'json')));
    expect(inside.code).toBe(0);
    expect(inside.out).toMatch(/"allowed": ?true/);
    const after = await capture(() => explainCommand.run(args('--at', '2026-01-01T12:00:00Z')));
    expect(after.code).toBe(0);
    expect(after.out).toContain('UNAUTHENTICATED');
  });
});
