import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { toCheckInput } from '../../src/authz/input.js';
import { loadConfigFile, resolveFrom } from '../../src/config/load.js';
import { checkRequestFromJson } from '../../src/server/request-json.js';

/**
 * The committed demo identities and requests (examples/gen-identities.ts) stay coherent: every SVID chains to the
 * bundle and is a SPIFFE leaf, tokens verify against the JWKS, requests parse, the config loads. Frozen clock:
 * validity is checked at a fixed instant, not at test time.
 */

const EXAMPLES = join(import.meta.dirname, '../../examples');
const AT = new Date('2030-06-01T00:00:00Z');
const read = (rel: string) => readFileSync(join(EXAMPLES, rel), 'utf8');

describe('examples/identities', () => {
  const bundle = new X509Certificate(read('identities/bundle.pem'));

  it.each(['frontend', 'orders', 'payments', 'catalog', 'mesh-authz'])(
    '%s SVID is a SPIFFE leaf of the bundle',
    (name) => {
      const cert = new X509Certificate(read(`identities/svid/${name}.pem`));
      expect(cert.checkIssued(bundle)).toBe(true);
      expect(cert.verify(bundle.publicKey)).toBe(true);
      expect(cert.ca).toBe(false);
      const uris = (cert.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('URI:'));
      expect(uris).toHaveLength(1);
      expect(uris[0]).toMatch(/^URI:spiffe:\/\/cluster\.local\/ns\/[a-z-]+\/sa\/[a-z-]+$/);
      expect(new Date(cert.validFrom).getTime()).toBeLessThan(AT.getTime());
      expect(new Date(cert.validTo).getTime()).toBeGreaterThan(AT.getTime());
      // The private key matches the certificate.
      expect(cert.checkPrivateKey(createPrivateKey(read(`identities/svid/${name}.key`)))).toBe(true);
    },
  );

  it('tokens verify against the JWKS; the expired one does not', async () => {
    const jwks = createLocalJWKSet(JSON.parse(read('identities/jwks.json')));
    const opts = { issuer: 'https://auth.shop.demo', audience: 'shop', currentDate: AT };
    const carol = await jwtVerify(read('identities/tokens/carol.jwt').trim(), jwks, opts);
    expect(carol.payload).toMatchObject({ sub: 'carol', groups: ['customers', 'catalog-admins'] });
    const alice = await jwtVerify(read('identities/tokens/alice.jwt').trim(), jwks, opts);
    expect(alice.payload.groups).toEqual(['customers']);
    await expect(jwtVerify(read('identities/tokens/expired.jwt').trim(), jwks, opts)).rejects.toMatchObject({
      code: 'ERR_JWT_EXPIRED',
    });
  });
});

describe('examples/requests and config', () => {
  it.each(readdirSync(join(EXAMPLES, 'requests')))('%s parses into a CheckInput for a shop workload', (file) => {
    const input = toCheckInput(checkRequestFromJson(JSON.parse(read(`requests/${file}`))));
    expect(input.workload.namespace).toBe('shop');
    expect(input.workload.labels.app).toMatch(/^(frontend|orders|payments|catalog)$/);
    expect(decodeURIComponent(input.source.certificate)).toContain('BEGIN CERTIFICATE');
  });

  it('config.yaml loads and every file it names exists', () => {
    const loaded = loadConfigFile(join(EXAMPLES, 'config.yaml'));
    const { policy, identity } = loaded.config;
    for (const p of policy.paths) expect(existsSync(resolveFrom(loaded, p))).toBe(true);
    for (const b of identity.trustBundles) expect(existsSync(resolveFrom(loaded, b.pem!))).toBe(true);
    for (const i of identity.jwt.issuers) expect(existsSync(resolveFrom(loaded, i.jwks.file!))).toBe(true);
  });
});
