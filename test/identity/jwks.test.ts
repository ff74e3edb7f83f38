/**
 * JWKS providers: a remote JWKS refetches on an unknown kid (key rotation) but at most once per cooldown, keeps the
 * last good set through an outage, and a JWKS file is re-read when it changes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileJwks, RemoteJwks } from '../../src/sources/jwks.js';
import { fakeFetch } from '../support/identity-config.js';
import { BASE_TIME, createTokenIssuer, type TokenIssuer } from '../support/pki.js';

const URL = 'https://idp.example.com/jwks';
let k1: TokenIssuer;
let k2: TokenIssuer;

beforeAll(async () => {
  k1 = await createTokenIssuer('https://idp.example.com', { kid: 'k1' });
  k2 = await createTokenIssuer('https://idp.example.com', { kid: 'k2' });
});

async function verifyWith(jwks: RemoteJwks | FileJwks, token: string) {
  return jwtVerify(token, (h, t) => jwks.resolve(h, t), { currentDate: new Date(BASE_TIME) });
}

describe('RemoteJwks', () => {
  it('refetches on an unknown kid after the cooldown, not before', async () => {
    let clock = 1_000_000;
    const net = fakeFetch();
    net.serve(URL, k1.jwks);
    const jwks = new RemoteJwks(URL, { fetch: net.fetch, cooldownMs: 30_000, clock: () => clock });
    await verifyWith(jwks, await k1.sign({ sub: 'a' }));
    expect(net.calls.get(URL)).toBe(1);
    // The issuer rotates in k2. Within the cooldown of the first fetch, an unknown kid does not refetch.
    net.serve(URL, { keys: [...k1.jwks.keys, ...k2.jwks.keys] });
    const t2 = await k2.sign({ sub: 'b' });
    await expect(verifyWith(jwks, t2)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(net.calls.get(URL)).toBe(1);
    clock += 30_000;
    expect((await verifyWith(jwks, t2)).payload.sub).toBe('b');
    expect(net.calls.get(URL)).toBe(2);
    // A flood of made-up kids within the next cooldown costs no fetch.
    for (let i = 0; i < 5; i++) {
      const fake = await createTokenIssuer('https://idp.example.com', { kid: `made-up-${i}` });
      await expect(verifyWith(jwks, await fake.sign({ sub: 'x' }))).rejects.toBeDefined();
    }
    expect(net.calls.get(URL)).toBe(2);
  });

  it('keeps the last good set through an outage', async () => {
    let clock = 0;
    const net = fakeFetch();
    net.serve(URL, k1.jwks);
    const errors: Error[] = [];
    const jwks = new RemoteJwks(URL, {
      fetch: net.fetch,
      cooldownMs: 1000,
      maxAgeMs: 5000,
      clock: () => clock,
      onError: (e) => errors.push(e),
    });
    const token = await k1.sign({ sub: 'a' });
    await verifyWith(jwks, token);
    net.serve(URL, {}, 500);
    clock += 10_000; // stale: a refetch is attempted and fails
    expect((await verifyWith(jwks, token)).payload.sub).toBe('a');
    expect(errors.length).toBe(1);
  });

  it('a token arriving during the start-up prefetch waits for it instead of failing', async () => {
    const net = fakeFetch();
    net.serve(URL, k1.jwks);
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = (async (url: string) => {
      await gate;
      return net.fetch(url);
    }) as typeof fetch;
    const token = await k1.sign({ sub: 'early' });
    const jwks = new RemoteJwks(URL, { fetch: slow, cooldownMs: 30_000 });
    void jwks.refresh();
    const verified = verifyWith(jwks, token);
    release();
    expect((await verified).payload.sub).toBe('early');
    expect(net.calls.get(URL)).toBe(1);
  });

  it('is unavailable (jwks_unavailable) when the first fetch fails', async () => {
    const net = fakeFetch();
    const jwks = new RemoteJwks(URL, { fetch: net.fetch, cooldownMs: 1000 });
    await expect(verifyWith(jwks, await k1.sign({ sub: 'a' }))).rejects.toMatchObject({ code: 'jwks_unavailable' });
  });

  it('refuses a JWKS holding a symmetric key', async () => {
    const net = fakeFetch();
    net.serve(URL, { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'k1' }] });
    const errors: Error[] = [];
    const jwks = new RemoteJwks(URL, { fetch: net.fetch, cooldownMs: 1000, onError: (e) => errors.push(e) });
    await expect(verifyWith(jwks, await k1.sign({ sub: 'a' }))).rejects.toMatchObject({ code: 'jwks_unavailable' });
    expect(errors[0]?.message).toMatch(/symmetric/);
  });

  it('refuses plain http to a non-loopback host', () => {
    expect(() => new RemoteJwks('http://idp.example.com/jwks', { cooldownMs: 1 })).toThrow(/https/);
  });
});

describe('FileJwks', () => {
  it('serves the keys of the file and picks up a rotation on reload', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jwks-'));
    const path = join(dir, 'jwks.json');
    await writeFile(path, JSON.stringify(k1.jwks));
    const jwks = await FileJwks.open(path, { watch: false });
    const t2 = await k2.sign({ sub: 'b' });
    expect(decodeProtectedHeader(t2).kid).toBe('k2');
    await expect(verifyWith(jwks, t2)).rejects.toBeDefined();
    await writeFile(path, JSON.stringify(k2.jwks));
    await jwks.reload();
    expect((await verifyWith(jwks, t2)).payload.sub).toBe('b');
    jwks.close();
  });
});

describe('FileJwks: an operator editing the key file never loses the keys', () => {
  it('a file emptied, half-written or deleted keeps the last good keys serving, and says why', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jwks-edit-'));
    const path = join(dir, 'jwks.json');
    await writeFile(path, JSON.stringify(k1.jwks));
    const errors: Error[] = [];
    const jwks = await FileJwks.open(path, { watch: false, onError: (e) => errors.push(e) });
    const t1 = await k1.sign({ sub: 'a' });
    const whole = JSON.stringify(k2.jwks);
    for (const edit of ['', whole.slice(0, Math.floor(whole.length / 2)), '{"keys": "not a list"}']) {
      await writeFile(path, edit);
      await jwks.reload();
      expect((await verifyWith(jwks, t1)).payload.sub).toBe('a');
    }
    await rm(path);
    await jwks.reload();
    expect((await verifyWith(jwks, t1)).payload.sub).toBe('a');
    expect(errors).toHaveLength(4);
    // The edit completes: the new keys serve.
    await writeFile(path, whole);
    await jwks.reload();
    expect((await verifyWith(jwks, await k2.sign({ sub: 'b' }))).payload.sub).toBe('b');
    jwks.close();
  });
});
