/**
 * Key changes and cached verdicts (issue 13, item 10): a token verdict computed while its issuer's keys change is
 * not cached (the key it rested on may be gone), and a refresh that brings the same keys flushes nothing.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JwksProvider } from '../../src/identity/jwks.js';
import { JwtVerifier } from '../../src/identity/jwt.js';
import { TrustBundleSet } from '../../src/identity/trust-bundles.js';
import { isPromise } from '../../src/identity/types.js';
import { FileJwks, RemoteJwks } from '../../src/sources/jwks.js';
import { fakeFetch, identityConfig } from '../support/identity-config.js';
import { BASE_TIME, createTokenIssuer, type TokenIssuer } from '../support/pki.js';

const ISSUER = 'https://idp.example.com';
let idp: TokenIssuer;

beforeAll(async () => {
  idp = await createTokenIssuer(ISSUER, { kid: 'k1' });
});

/** A key source whose lookups wait for `release()`, and whose change listeners the test fires: a stand-in JWKS. */
function gatedJwks(keys: JSONWebKeySet) {
  const resolver = createLocalJWKSet(keys);
  const listeners: (() => void)[] = [];
  let open: () => void = () => {};
  const gate = new Promise<void>((r) => {
    open = r;
  });
  const provider: JwksProvider = {
    resolve: async (h, t) => {
      await gate;
      return resolver(h, t);
    },
    onChange: (l) => listeners.push(l),
    close: () => {},
  };
  return {
    provider,
    release: () => open(),
    change: () => {
      for (const l of listeners) l();
    },
  };
}

async function verifierWith(provider: JwksProvider): Promise<JwtVerifier> {
  const config = identityConfig({
    jwt: {
      issuers: [{ issuer: ISSUER, jwks: { url: `${ISSUER}/jwks` }, audiences: ['orders'], algorithms: ['ES256'] }],
    },
  }).jwt;
  return JwtVerifier.create(config, { openJwks: async () => provider, bundles: new TrustBundleSet() });
}

describe('a token verified while its issuer keys change', () => {
  it('answers its own request but is not cached: the next request verifies again', async () => {
    const jwks = gatedJwks(idp.jwks);
    const verifier = await verifierWith(jwks.provider);
    const headers = { authorization: `Bearer ${await idp.sign({ sub: 'alice', aud: 'orders' })}` };
    const first = verifier.verify(headers, {}, BASE_TIME);
    expect(isPromise(first)).toBe(true);
    jwks.change(); // the keys change while the first verification waits on them
    jwks.release();
    expect((await first).user?.subject).toBe('alice');
    // Not cached: a synchronous answer here would be a verdict resting on keys that may no longer exist.
    expect(isPromise(verifier.verify(headers, {}, BASE_TIME))).toBe(true);
  });

  it('is cached when nothing changed meanwhile (the other side of the rule)', async () => {
    const jwks = gatedJwks(idp.jwks);
    const verifier = await verifierWith(jwks.provider);
    const headers = { authorization: `Bearer ${await idp.sign({ sub: 'bob', aud: 'orders' })}` };
    const first = verifier.verify(headers, {}, BASE_TIME);
    jwks.release();
    await first;
    expect(isPromise(verifier.verify(headers, {}, BASE_TIME))).toBe(false);
  });
});

describe('a key refresh that changed nothing', () => {
  it('FileJwks: re-reading the same keys notifies no one; new keys do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jwks-same-'));
    const path = join(dir, 'jwks.json');
    await writeFile(path, JSON.stringify(idp.jwks));
    const jwks = await FileJwks.open(path, { watch: false });
    let changes = 0;
    jwks.onChange(() => changes++);
    await writeFile(path, JSON.stringify(idp.jwks));
    await jwks.reload();
    expect(changes).toBe(0);
    const other = await createTokenIssuer(ISSUER, { kid: 'k2' });
    await writeFile(path, JSON.stringify(other.jwks));
    await jwks.reload();
    expect(changes).toBe(1);
    jwks.close();
  });

  it('RemoteJwks: a refetch of the same keys notifies no one; a rotation does', async () => {
    const net = fakeFetch();
    const url = `${ISSUER}/jwks`;
    net.serve(url, idp.jwks);
    const jwks = new RemoteJwks(url, { fetch: net.fetch, cooldownMs: 0 });
    let changes = 0;
    jwks.onChange(() => changes++);
    await jwks.refresh();
    await jwks.refresh();
    expect(net.calls.get(url)).toBe(2);
    expect(changes).toBe(0);
    const other = await createTokenIssuer(ISSUER, { kid: 'k2' });
    net.serve(url, other.jwks);
    await jwks.refresh();
    expect(changes).toBe(1);
  });
});
