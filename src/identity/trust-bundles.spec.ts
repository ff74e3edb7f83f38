import { webcrypto } from 'node:crypto';
import { exportJWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, type Issued } from '../../test/support/pki.js';
import { bundleFromPem, parseSpiffeBundle, type TrustBundle } from './bundle.js';
import { TrustBundleSet } from './trust-bundles.js';

let root: Issued;
let rotated: Issued;
let other: Issued;

async function jwtBundle(td: string, kid: string): Promise<TrustBundle> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  return parseSpiffeBundle(td, { keys: [{ ...(await exportJWK(keys.publicKey)), use: 'jwt-svid', kid }] });
}

beforeAll(async () => {
  root = await createCa({ trustDomain: 'example.org' });
  rotated = await createCa({ trustDomain: 'example.org', subject: 'CN=rotated' });
  other = await createCa({ trustDomain: 'other.org' });
});

describe('TrustBundleSet: each trust domain has its own authorities', () => {
  it('a domain with no bundle, or a bundle without X.509 authorities, has no roots (untrusted)', async () => {
    const set = new TrustBundleSet();
    expect(set.x509Roots('example.org')).toBeNull();
    expect(set.get('example.org')).toBeNull();
    set.set(parseSpiffeBundle('example.org', { keys: [] }));
    expect(set.x509Roots('example.org')).toBeNull();
    expect(set.get('example.org')).not.toBeNull();
    set.set(await jwtBundle('other.org', 'k'));
    expect(set.x509Roots('other.org')).toBeNull();
  });

  it('roots and JWT keys are looked up in the named domain only', async () => {
    const set = new TrustBundleSet();
    set.set(bundleFromPem('example.org', root.pem));
    set.set(bundleFromPem('other.org', other.pem));
    const jwt = await jwtBundle('jwt.org', 'k1');
    set.set(jwt);
    expect(set.x509Roots('example.org')?.map((c) => c.fingerprint)).toEqual([root.fingerprint]);
    expect(set.x509Roots('other.org')?.map((c) => c.fingerprint)).toEqual([other.fingerprint]);
    expect(set.jwtKey('jwt.org', 'k1')).toBe(jwt.jwtAuthorities.get('k1'));
    expect(set.jwtKey('jwt.org', 'k2')).toBeNull();
    expect(set.jwtKey('example.org', 'k1')).toBeNull();
    expect(set.jwtKey('nowhere.org', 'k1')).toBeNull();
    expect(set.trustDomains()).toEqual(['example.org', 'other.org', 'jwt.org']);
  });

  it('set() refuses a bundle whose trust domain is not a valid trust domain name', () => {
    const set = new TrustBundleSet();
    expect(() => set.set(bundleFromPem('Example.org', root.pem))).toThrow();
    expect(set.trustDomains()).toEqual([]);
    expect(set.generation).toBe(0);
  });
});

describe('TrustBundleSet: caches hear of every change of what is trusted, and only of those', () => {
  it('set() always notifies and advances the generation; an unsubscribed listener hears nothing more', () => {
    const set = new TrustBundleSet();
    let heard = 0;
    const off = set.onChange(() => heard++);
    set.set(bundleFromPem('example.org', root.pem));
    expect([heard, set.generation]).toEqual([1, 1]);
    off();
    set.set(bundleFromPem('example.org', root.pem));
    expect([heard, set.generation]).toEqual([1, 2]);
  });

  it('update() with the same authorities and keys is silent; a rotated root, a new domain or a new JWT key is heard', async () => {
    const set = new TrustBundleSet();
    let heard = 0;
    set.onChange(() => heard++);
    set.update(new Map([['example.org', bundleFromPem('example.org', root.pem)]]));
    expect([heard, set.generation]).toEqual([1, 1]);
    // A periodic refresh with the same content: no flush.
    set.update(new Map([['example.org', bundleFromPem('example.org', root.pem)]]));
    expect([heard, set.generation]).toEqual([1, 1]);
    set.update(new Map([['example.org', bundleFromPem('example.org', rotated.pem)]]));
    expect([heard, set.generation]).toEqual([2, 2]);
    expect(set.x509Roots('example.org')?.map((c) => c.fingerprint)).toEqual([rotated.fingerprint]);
    // One more authority beside the same one is a change too.
    set.update(new Map([['example.org', bundleFromPem('example.org', rotated.pem + root.pem)]]));
    expect(heard).toBe(3);
    set.update(new Map([['other.org', bundleFromPem('other.org', other.pem)]]));
    expect(heard).toBe(4);
    expect(set.trustDomains()).toEqual(['example.org', 'other.org']);
    // The same kid with another key is a change; the same key is not.
    const first = await jwtBundle('jwt.org', 'k');
    set.update(new Map([['jwt.org', first]]));
    expect(heard).toBe(5);
    set.update(new Map([['jwt.org', parseSpiffeBundle('jwt.org', { keys: [...first.jwtAuthorities.values()] })]]));
    expect(heard).toBe(5);
    set.update(new Map([['jwt.org', await jwtBundle('jwt.org', 'k')]]));
    expect([heard, set.generation]).toEqual([6, 6]);
  });

  it('removing every X.509 authority of a domain is a change (its peers must be re-checked)', async () => {
    const set = new TrustBundleSet();
    let heard = 0;
    set.onChange(() => heard++);
    const x = bundleFromPem('example.org', root.pem);
    set.update(new Map([['example.org', x]]));
    set.update(new Map([['example.org', { ...x, x509Authorities: [] }]]));
    expect(heard).toBe(2);
  });

  it('close() forgets the listeners', () => {
    const set = new TrustBundleSet();
    let heard = 0;
    set.onChange(() => heard++);
    set.close();
    set.set(bundleFromPem('example.org', root.pem));
    expect(heard).toBe(0);
    expect(set.generation).toBe(1);
  });
});
