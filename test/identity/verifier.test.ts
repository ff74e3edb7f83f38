/**
 * createIdentityVerifier end to end (without gRPC): peer sources in their configured order, the certificate cache,
 * bundle files and endpoints changing under it, and Envoy-verified claims. Frozen clock: NOW.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IdentityInput, IdentityOutcome } from '../../src/identity/index.js';
import { createIdentityVerifier, type ManagedIdentityVerifier } from '../../src/sources/identity.js';
import { fakeFetch, identityConfig } from '../support/identity-config.js';
import { BASE_TIME, createCa, createSvid, envoyEncode, type Issued, spiffeBundle } from '../support/pki.js';

const NOW = BASE_TIME;
const WEB = 'spiffe://example.org/ns/shop/sa/web';

let dir: string;
let root: Issued;
let otherRoot: Issued;
let leaf: Issued;
const open: ManagedIdentityVerifier[] = [];

function input(partial: Partial<IdentityInput>): IdentityInput {
  return { certificate: '', principal: '', headers: {}, filterMetadata: {}, now: NOW, ...partial };
}

async function make(partial: Record<string, unknown>, fetchImpl?: typeof fetch, watch = false) {
  const v = await createIdentityVerifier(identityConfig(partial), {
    resolvePath: (p) => join(dir, p),
    fetch: fetchImpl,
    watch,
    pollIntervalMs: 20,
  });
  open.push(v);
  return v;
}

async function outcome(v: ManagedIdentityVerifier, i: Partial<IdentityInput>): Promise<IdentityOutcome> {
  return await v.verify(input(i));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'identity-verifier-'));
  root = await createCa({ trustDomain: 'example.org' });
  otherRoot = await createCa({ trustDomain: 'example.org', subject: 'CN=rotated root' });
  leaf = await createSvid(root, WEB);
  await writeFile(join(dir, 'root.pem'), root.pem);
});

afterEach(() => {
  for (const v of open.splice(0)) v.close();
});

const pemBundle = { trustBundles: [{ trustDomain: 'example.org', pem: 'root.pem' }] };

describe('peer from the certificate Envoy forwards', () => {
  it('verifies the URL-encoded leaf and caches it: the repeat is synchronous and the same object', async () => {
    const v = await make(pemBundle);
    const first = v.verify(input({ certificate: envoyEncode(leaf.pem) }));
    expect(first).not.toBeInstanceOf(Promise);
    const peer = (first as Extract<IdentityOutcome, { ok: true }>).peer;
    expect(peer).toMatchObject({
      spiffeId: WEB,
      namespace: 'shop',
      serviceAccount: 'web',
      credentialId: leaf.fingerprint,
    });
    const again = v.verify(input({ certificate: envoyEncode(leaf.pem) })) as Extract<IdentityOutcome, { ok: true }>;
    expect(again.peer).toBe(peer);
  });

  it('never serves a cached identity to another certificate that shares its cache slot (same length and tail)', async () => {
    const v = await make(pemBundle);
    const good = envoyEncode(leaf.pem);
    expect((await outcome(v, { certificate: good })).ok).toBe(true);
    // Attack: flip one base64 character in the middle of the cached certificate. Same length, same last 96
    // characters, so the cache slot is the same; were the hit not confirmed against the full string, this forged
    // certificate would be handed the real one's identity. It must be verified afresh, and fail.
    const mid = Math.floor(good.length / 2);
    const flipped = good[mid] === 'A' ? 'B' : 'A';
    const forged = `${good.slice(0, mid)}${flipped}${good.slice(mid + 1)}`;
    expect(forged.length).toBe(good.length);
    expect(forged.slice(-96)).toBe(good.slice(-96));
    const r = await outcome(v, { certificate: forged });
    expect(r.ok).toBe(false);
    // And the real certificate still verifies afterwards.
    expect((await outcome(v, { certificate: good })).ok).toBe(true);
  });

  it('a cached certificate is still refused once it has expired', async () => {
    const v = await make(pemBundle);
    expect((await outcome(v, { certificate: envoyEncode(leaf.pem) })).ok).toBe(true);
    const late = await outcome(v, { certificate: envoyEncode(leaf.pem), now: leaf.cert.notAfter.getTime() + 1 });
    expect(late.ok || late.error.code).toBe('svid_expired');
  });

  it('a certificate that is not valid URL-encoding is malformed', async () => {
    const v = await make(pemBundle);
    const out = await outcome(v, { certificate: '%E0%A4%A' });
    expect(out.ok || out.error.code).toBe('svid_malformed');
  });

  it('no certificate, no other source: anonymous', async () => {
    const v = await make(pemBundle);
    expect(await outcome(v, { principal: WEB })).toEqual({ ok: true, peer: null, user: null });
  });

  it('a bundle file change takes effect and drops cached verdicts (root rotated out)', async () => {
    await writeFile(join(dir, 'rotating.pem'), root.pem);
    const v = await make({ trustBundles: [{ trustDomain: 'example.org', pem: 'rotating.pem' }] }, undefined, true);
    expect((await outcome(v, { certificate: envoyEncode(leaf.pem) })).ok).toBe(true);
    await writeFile(join(dir, 'rotating.pem'), `${otherRoot.pem}\n`);
    await vi.waitFor(async () => {
      const out = await outcome(v, { certificate: envoyEncode(leaf.pem) });
      expect(out.ok || out.error.code).toBe('svid_bad_chain');
    });
  });

  it('a broken bundle file keeps the last good bundle', async () => {
    await writeFile(join(dir, 'flaky.pem'), root.pem);
    const v = await make({ trustBundles: [{ trustDomain: 'example.org', pem: 'flaky.pem' }] });
    await writeFile(join(dir, 'flaky.pem'), '-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n');
    await v.bundles.reload();
    expect((await outcome(v, { certificate: envoyEncode(leaf.pem) })).ok).toBe(true);
  });

  it('a PEM file emptied mid-edit keeps the last good bundle (no moment of distrust), then the edit lands', async () => {
    // An editor or `kubectl cp` truncates the file, then writes it. Read in between, the empty file used to become an
    // empty bundle: every peer of the domain was rejected (svid_untrusted_domain) until the write landed.
    await writeFile(join(dir, 'edited.pem'), root.pem);
    const v = await make({ trustBundles: [{ trustDomain: 'example.org', pem: 'edited.pem' }] });
    for (const between of ['', '\n  \n', '# comment only\n']) {
      await writeFile(join(dir, 'edited.pem'), between);
      await v.bundles.reload();
      const out = await outcome(v, { certificate: envoyEncode(leaf.pem) });
      expect(out.ok || out.error.code, JSON.stringify(between)).toBe(true);
    }
    // The other side: the finished write is applied (the old root rotated out, so the leaf no longer chains).
    await writeFile(join(dir, 'edited.pem'), otherRoot.pem);
    await v.bundles.reload();
    const out = await outcome(v, { certificate: envoyEncode(leaf.pem) });
    expect(out.ok || out.error.code).toBe('svid_bad_chain');
  });

  it('a PEM bundle file with no certificate is a start-up error naming the domain', async () => {
    await writeFile(join(dir, 'blank.pem'), '');
    await expect(make({ trustBundles: [{ trustDomain: 'example.org', pem: 'blank.pem' }] })).rejects.toThrow(
      /example\.org holds no certificate/,
    );
  });

  it('loads X.509 authorities from a SPIFFE bundle document', async () => {
    await writeFile(join(dir, 'bundle.json'), JSON.stringify(await spiffeBundle([root])));
    const v = await make({ trustBundles: [{ trustDomain: 'example.org', spiffeBundle: 'bundle.json' }] });
    expect((await outcome(v, { certificate: envoyEncode(leaf.pem) })).ok).toBe(true);
  });

  it('an empty SPIFFE bundle distrusts the whole domain', async () => {
    await writeFile(join(dir, 'empty.json'), JSON.stringify({ keys: [] }));
    const v = await make({ trustBundles: [{ trustDomain: 'example.org', spiffeBundle: 'empty.json' }] });
    const out = await outcome(v, { certificate: envoyEncode(leaf.pem) });
    expect(out.ok || out.error.code).toBe('svid_untrusted_domain');
  });

  it('a missing bundle file is a start-up error, not silent distrust', async () => {
    await expect(make({ trustBundles: [{ trustDomain: 'example.org', pem: 'nope.pem' }] })).rejects.toThrow();
  });
});

describe('bundle endpoints', () => {
  const URL = 'https://bundles.example.org/bundle';

  it('fetches at start, and refuses an older spiffe_sequence on refresh', async () => {
    const net = fakeFetch();
    net.serve(URL, await spiffeBundle([root], [], { sequence: 5, refreshHint: 60 }));
    const v = await make({ trustBundles: [{ trustDomain: 'example.org', endpoint: URL }] }, net.fetch);
    expect((await outcome(v, { certificate: envoyEncode(leaf.pem) })).ok).toBe(true);
    // The same keys again: no change, cached verdicts stay.
    const generation = v.bundles.generation;
    net.serve(URL, await spiffeBundle([root], [], { sequence: 5, refreshHint: 60 }));
    await v.bundles.refreshEndpoints();
    expect(v.bundles.generation).toBe(generation);
    // A stale replica serves an older bundle without the root: ignored, the newer one stays.
    net.serve(URL, await spiffeBundle([otherRoot], [], { sequence: 4 }));
    await v.bundles.refreshEndpoints();
    expect((await outcome(v, { certificate: envoyEncode(leaf.pem) })).ok).toBe(true);
    // A newer bundle that rotated the root out is applied.
    net.serve(URL, await spiffeBundle([otherRoot], [], { sequence: 6 }));
    await v.bundles.refreshEndpoints();
    const out = await outcome(v, { certificate: envoyEncode(leaf.pem) });
    expect(out.ok || out.error.code).toBe('svid_bad_chain');
  });

  it('an endpoint down at start leaves the domain untrusted, not open', async () => {
    const net = fakeFetch();
    net.serve(URL, {}, 503);
    const v = await make({ trustBundles: [{ trustDomain: 'example.org', endpoint: URL }] }, net.fetch);
    const out = await outcome(v, { certificate: envoyEncode(leaf.pem) });
    expect(out.ok || out.error.code).toBe('svid_untrusted_domain');
  });

  it('plain http is refused for a non-loopback endpoint', async () => {
    await expect(
      make({ trustBundles: [{ trustDomain: 'example.org', endpoint: 'http://bundles.example.org/b' }] }),
    ).rejects.toThrow(/https/);
  });
});

describe('Envoy principal (only when Envoy verified the peer)', () => {
  const cfg = { peer: { sources: ['principal'], trustEnvoyPrincipal: true } };

  it('a valid SPIFFE principal names the peer', async () => {
    const v = await make(cfg);
    const out = await outcome(v, { principal: WEB });
    expect(out.ok && out.peer?.spiffeId).toBe(WEB);
  });

  it.each(['web.shop.svc.cluster.local', 'CN=web', 'spiffe://example.org', 'spiffe://Example.org/ns/a/sa/b'])(
    'a principal that is not a workload SPIFFE ID is refused: %s',
    async (principal) => {
      const v = await make(cfg);
      const out = await outcome(v, { principal });
      expect(out.ok || out.error.code).toBe('principal_invalid');
    },
  );

  it('listing principal without trustEnvoyPrincipal is a configuration error', async () => {
    // Refused by the config schema, before any verifier is built (the runtime check stays as a second line).
    await expect(make({ peer: { sources: ['principal'] } })).rejects.toThrow(/trustEnvoyPrincipal/);
  });
});

describe('XFCC from a trusted proxy', () => {
  const last = { peer: { sources: ['xfcc'], xfcc: { enabled: true, trust: 'last' } } };
  const only = { peer: { sources: ['xfcc'], xfcc: { enabled: true, trust: 'only' } } };
  const xfcc = (v: string) => ({ headers: { 'x-forwarded-client-cert': v } });

  it('APPEND_FORWARD: a spoofed first element does not become the peer', async () => {
    const v = await make(last);
    const out = await outcome(
      v,
      xfcc(`URI=spiffe://example.org/ns/admin/sa/root,By=spiffe://example.org/ns/shop/sa/gw;URI=${WEB}`),
    );
    expect(out.ok && out.peer?.spiffeId).toBe(WEB);
  });

  it('SANITIZE_SET: more than one element is refused', async () => {
    const v = await make(only);
    const out = await outcome(v, xfcc(`URI=spiffe://example.org/ns/admin/sa/root,URI=${WEB}`));
    expect(out.ok || out.error.code).toBe('xfcc_untrusted');
  });

  it.each([
    ['malformed header', 'URI="unterminated', 'xfcc_malformed'],
    [
      'quoted URI smuggling a separator',
      'URI="spiffe://example.org/a;URI=spiffe://example.org/admin"',
      'svid_invalid_spiffe_id',
    ],
    [
      'two URIs in the trusted element',
      `URI=${WEB};URI=spiffe://example.org/ns/admin/sa/root`,
      'svid_multiple_uri_sans',
    ],
    ['a non-SPIFFE URI', 'URI=https://example.org/web', 'svid_invalid_spiffe_id'],
  ])('%s → %s', async (_n, header, code) => {
    const v = await make(last);
    const out = await outcome(v, xfcc(header));
    expect(out.ok || out.error.code).toBe(code);
  });

  it('a trusted element with no URI SAN is anonymous', async () => {
    const v = await make(last);
    expect(await outcome(v, xfcc('Hash=abc;URI=;DNS=web.example.org'))).toEqual({ ok: true, peer: null, user: null });
  });

  it('the XFCC header is ignored when the config does not enable it', async () => {
    const v = await make(pemBundle);
    expect((await outcome(v, xfcc(`URI=${WEB}`))).ok && (await outcome(v, xfcc(`URI=${WEB}`)))).toMatchObject({
      peer: null,
    });
  });

  it('sources are tried in order: the certificate wins over XFCC when both are present', async () => {
    const v = await make({ ...pemBundle, peer: { sources: ['certificate', 'xfcc'], xfcc: { enabled: true } } });
    const spoof = 'URI=spiffe://example.org/ns/admin/sa/root';
    const both = await outcome(v, { certificate: envoyEncode(leaf.pem), ...xfcc(spoof) });
    expect(both.ok && both.peer?.spiffeId).toBe(WEB);
    const xfccOnly = await outcome(v, xfcc(`URI=${WEB}`));
    expect(xfccOnly.ok && xfccOnly.peer?.spiffeId).toBe(WEB);
  });

  it('enabling xfcc without listing it as a source is a configuration error', async () => {
    await expect(make({ peer: { xfcc: { enabled: true } } })).rejects.toThrow(/not in identity\.peer\.sources/);
  });
});

describe('claims Envoy jwt_authn already verified', () => {
  const md = (payload: Record<string, unknown>) => ({
    filterMetadata: { 'envoy.filters.http.jwt_authn': { 'https://idp.example.com': payload } },
  });

  it('are used only when enabled', async () => {
    const payload = { iss: 'https://idp.example.com', sub: 'alice', groups: ['admins'], exp: NOW / 1000 + 60 };
    const off = await make({});
    expect(await outcome(off, md(payload))).toEqual({ ok: true, peer: null, user: null });
    const on = await make({ jwt: { envoyJwtAuthn: { enabled: true } } });
    const out = await outcome(on, md(payload));
    expect(out.ok && out.user).toMatchObject({
      issuer: 'https://idp.example.com',
      subject: 'alice',
      groups: ['admins'],
    });
  });
});
