/**
 * X.509-SVID attack suite: every certificate is generated here (test/support/pki.ts). Each bad leaf states why it
 * must be denied and which reason code the operator sees; good leaves, with and without intermediates, pass.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleFromPem, parseSpiffeBundle } from '../../src/identity/bundle.js';
import { TrustBundleSet } from '../../src/identity/trust-bundles.js';
import { IdentityError, type IdentityErrorCode } from '../../src/identity/types.js';
import { verifyX509Svid } from '../../src/identity/x509-svid.js';
import {
  BASE_TIME,
  createCa,
  createCertificate,
  createSvid,
  type Issued,
  tamperSignature,
  x509,
} from '../support/pki.js';

const DAY = 86_400_000;
const NOW = BASE_TIME;
const ID = 'spiffe://example.org/ns/default/sa/web';

let root: Issued;
let otherRoot: Issued;
let intermediate: Issued;
let bundles: TrustBundleSet;

function bundleSet(entries: Record<string, readonly Issued[]>): TrustBundleSet {
  const set = new TrustBundleSet();
  for (const [td, cas] of Object.entries(entries)) {
    // No CA: an empty SPIFFE bundle document (a PEM without a certificate is refused as a file caught mid-edit).
    set.set(cas.length === 0 ? parseSpiffeBundle(td, { keys: [] }) : bundleFromPem(td, cas.map((c) => c.pem).join('')));
  }
  return set;
}

function denied(pem: string, set: TrustBundleSet = bundles, now = NOW): IdentityError {
  try {
    verifyX509Svid(pem, set, now);
  } catch (err) {
    if (err instanceof IdentityError) return err;
    throw err;
  }
  throw new Error('expected the certificate to be denied');
}

beforeAll(async () => {
  root = await createCa({ trustDomain: 'example.org' });
  otherRoot = await createCa({ trustDomain: 'other.org' });
  intermediate = await createCa({ trustDomain: 'example.org', issuer: root });
  bundles = bundleSet({ 'example.org': [root], 'other.org': [otherRoot] });
});

describe('good X.509-SVIDs are accepted', () => {
  it('a leaf signed directly by the root', async () => {
    const leaf = await createSvid(root, ID);
    const peer = verifyX509Svid(leaf.pem, bundles, NOW);
    expect(peer).toMatchObject({
      spiffeId: ID,
      trustDomain: 'example.org',
      namespace: 'default',
      serviceAccount: 'web',
      credentialId: leaf.fingerprint,
    });
    expect(peer.expiresAt).toBe(leaf.cert.notAfter.getTime());
  });

  it('a leaf under an intermediate configured in the bundle (Envoy sends the leaf only)', async () => {
    const leaf = await createSvid(intermediate, ID);
    const set = bundleSet({ 'example.org': [root, intermediate] });
    expect(verifyX509Svid(leaf.pem, set, NOW).spiffeId).toBe(ID);
  });

  it('a leaf under an intermediate presented after it in the PEM (XFCC Chain)', async () => {
    const leaf = await createSvid(intermediate, ID);
    expect(verifyX509Svid(leaf.pem + intermediate.pem, bundles, NOW).spiffeId).toBe(ID);
  });

  it('a leaf under two intermediates with pathLen respected', async () => {
    const mid1 = await createCa({ trustDomain: 'example.org', issuer: root, pathLength: 1 });
    const mid2 = await createCa({ trustDomain: 'example.org', issuer: mid1, pathLength: 0 });
    const leaf = await createSvid(mid2, ID);
    expect(verifyX509Svid(leaf.pem + mid2.pem + mid1.pem, bundles, NOW).spiffeId).toBe(ID);
  });

  it('an RSA leaf under an RSA root, without extendedKeyUsage', async () => {
    const rsaRoot = await createCa({ trustDomain: 'example.org', keyAlgorithm: 'rsa-2048' });
    const leaf = await createSvid(rsaRoot, ID, { keyAlgorithm: 'rsa-2048', extKeyUsage: null });
    const set = bundleSet({ 'example.org': [rsaRoot] });
    expect(verifyX509Svid(leaf.pem, set, NOW).spiffeId).toBe(ID);
  });

  it('the expiry is the earliest notAfter along the chain', async () => {
    const shortMid = await createCa({ trustDomain: 'example.org', issuer: root, notAfter: new Date(NOW + DAY) });
    const leaf = await createSvid(shortMid, ID);
    expect(verifyX509Svid(leaf.pem + shortMid.pem, bundles, NOW).expiresAt).toBe(shortMid.cert.notAfter.getTime());
  });
});

interface AttackCase {
  readonly name: string;
  readonly why: string;
  readonly code: IdentityErrorCode;
  /** The reason the operator and the caller see (safeMessage). */
  readonly says: RegExp;
  readonly build: () => Promise<{ pem: string; set?: TrustBundleSet; now?: number }>;
}

const attacks: readonly AttackCase[] = [
  {
    name: 'leaf of a trust domain with no bundle',
    why: 'a trust domain with no bundle is untrusted, whoever signed the leaf',
    code: 'svid_untrusted_domain',
    says: /trust domain evil\.org has no trust bundle/,
    build: async () => ({ pem: (await createSvid(root, 'spiffe://evil.org/ns/default/sa/web')).pem }),
  },
  {
    name: 'leaf claiming example.org but chaining to other.org root',
    why: 'roots are never pooled: an ID in example.org must chain to example.org bundle',
    code: 'svid_bad_chain',
    says: /does not chain to a root of trust domain example\.org/,
    build: async () => ({ pem: (await createSvid(otherRoot, ID)).pem }),
  },
  {
    name: 'leaf signed by an unknown self-made CA that copies the root name',
    why: 'a name match is not trust: the key identifiers and signature must match a bundle authority',
    code: 'svid_bad_chain',
    says: /does not chain to a root of trust domain example\.org/,
    build: async () => {
      const fake = await createCa({ trustDomain: 'example.org', subject: root.cert.subject });
      return { pem: (await createSvid(fake, ID)).pem };
    },
  },
  {
    name: 'expired leaf',
    why: 'validity is checked at the request time',
    code: 'svid_expired',
    says: /the peer certificate has expired/,
    build: async () => ({
      pem: (await createSvid(root, ID, { notBefore: new Date(NOW - 10 * DAY), notAfter: new Date(NOW - DAY) })).pem,
    }),
  },
  {
    name: 'leaf valid only from tomorrow',
    why: 'a certificate is not valid before notBefore',
    code: 'svid_not_yet_valid',
    says: /the peer certificate is not yet valid/,
    build: async () => ({
      pem: (await createSvid(root, ID, { notBefore: new Date(NOW + DAY), notAfter: new Date(NOW + 10 * DAY) })).pem,
    }),
  },
  {
    name: 'a good leaf checked one millisecond after notAfter',
    why: 'the request time, not the load time, decides',
    code: 'svid_expired',
    says: /the peer certificate has expired/,
    build: async () => {
      const leaf = await createSvid(root, ID);
      return { pem: leaf.pem, now: leaf.cert.notAfter.getTime() + 1 };
    },
  },
  {
    name: 'CA certificate used as a leaf',
    why: 'signing certificates are never accepted as leaves (cA=true)',
    code: 'svid_not_leaf',
    says: /the peer certificate is a CA certificate/,
    build: async () => ({ pem: (await createSvid(root, ID, { ca: true, keyUsage: ['digitalSignature'] })).pem }),
  },
  {
    name: 'leaf with keyCertSign',
    why: 'a leaf must not be able to sign certificates',
    code: 'svid_bad_key_usage',
    says: /has the keyCertSign key usage/,
    build: async () => ({ pem: (await createSvid(root, ID, { keyUsage: ['digitalSignature', 'keyCertSign'] })).pem }),
  },
  {
    name: 'leaf with cRLSign',
    why: 'a leaf must not be able to sign CRLs',
    code: 'svid_bad_key_usage',
    says: /has the cRLSign key usage/,
    build: async () => ({ pem: (await createSvid(root, ID, { keyUsage: ['digitalSignature', 'cRLSign'] })).pem }),
  },
  {
    name: 'leaf without digitalSignature',
    why: 'an X.509-SVID leaf must have digitalSignature',
    code: 'svid_bad_key_usage',
    says: /lacks the digitalSignature key usage/,
    build: async () => ({ pem: (await createSvid(root, ID, { keyUsage: ['keyEncipherment'] })).pem }),
  },
  {
    name: 'leaf without keyUsage',
    why: 'keyUsage is required on an X.509-SVID leaf',
    code: 'svid_bad_key_usage',
    says: /has no keyUsage extension/,
    build: async () => ({ pem: (await createSvid(root, ID, { keyUsage: null })).pem }),
  },
  {
    name: 'leaf whose extendedKeyUsage is codeSigning only',
    why: 'if extendedKeyUsage is present it must allow TLS client and server auth',
    code: 'svid_bad_key_usage',
    says: /extendedKeyUsage lacks serverAuth and clientAuth/,
    build: async () => ({ pem: (await createSvid(root, ID, { extKeyUsage: ['codeSigning'] })).pem }),
  },
  {
    name: 'leaf with two URI SANs',
    why: 'exactly one URI SAN: two would let the holder pick the identity it claims',
    code: 'svid_multiple_uri_sans',
    says: /more than one URI SAN/,
    build: async () => ({
      pem: (await createSvid(root, ID, { uris: [ID, 'spiffe://example.org/ns/admin/sa/root'] })).pem,
    }),
  },
  {
    name: 'leaf with no URI SAN (DNS only)',
    why: 'no SPIFFE ID, no workload identity',
    code: 'svid_no_uri_san',
    says: /has no URI SAN \(no SPIFFE ID\)/,
    build: async () => ({ pem: (await createSvid(root, ID, { uris: [], dns: ['web.default.svc'] })).pem }),
  },
  {
    name: 'leaf with a non-SPIFFE URI SAN',
    why: 'the URI SAN must be a SPIFFE ID',
    code: 'svid_invalid_spiffe_id',
    says: /the URI SAN is not a valid SPIFFE ID \(\w+\)/,
    build: async () => ({ pem: (await createSvid(root, ID, { uris: ['https://example.org/web'] })).pem }),
  },
  {
    name: 'leaf whose SPIFFE ID has no path',
    why: 'a workload ID has a path; the bare trust domain ID names the domain, not a workload',
    code: 'svid_invalid_spiffe_id',
    says: /a workload SPIFFE ID must have a path/,
    build: async () => ({ pem: (await createSvid(root, ID, { uris: ['spiffe://example.org'] })).pem }),
  },
  {
    name: 'leaf whose SPIFFE ID has an uppercase trust domain',
    why: 'IDs are compared raw; Example.org is not example.org',
    code: 'svid_invalid_spiffe_id',
    says: /the URI SAN is not a valid SPIFFE ID \(\w+\)/,
    build: async () => ({
      pem: (await createSvid(root, ID, { uris: ['spiffe://Example.org/ns/default/sa/web'] })).pem,
    }),
  },
  {
    name: 'leaf with a broken signature',
    why: 'the signature must verify with the issuer key',
    code: 'svid_bad_signature',
    says: /a certificate signature in the chain does not verify/,
    build: async () => ({ pem: tamperSignature(await createSvid(root, ID)) }),
  },
  {
    name: 'leaf under an intermediate without the CA flag (presented chain)',
    why: 'only CAs may sign: an end-entity certificate cannot vouch for another',
    code: 'svid_bad_chain',
    says: /signs others but is not a CA/,
    build: async () => {
      const notCa = await createCertificate({
        subject: 'CN=not a ca',
        issuer: root,
        ca: false,
        keyUsage: ['digitalSignature', 'keyCertSign'],
        uris: ['spiffe://example.org'],
      });
      return { pem: (await createSvid(notCa, ID)).pem + notCa.pem };
    },
  },
  {
    name: 'leaf under an intermediate without the CA flag (configured in the bundle)',
    why: 'a bundle entry that is not a CA cannot anchor a chain either',
    code: 'svid_bad_chain',
    says: /signs others but is not a CA/,
    build: async () => {
      const notCa = await createCertificate({
        subject: 'CN=not a ca',
        issuer: root,
        ca: null,
        keyUsage: ['digitalSignature', 'keyCertSign'],
      });
      return { pem: (await createSvid(notCa, ID)).pem, set: bundleSet({ 'example.org': [root, notCa] }) };
    },
  },
  {
    name: 'leaf under an expired intermediate',
    why: 'every certificate on the path must be valid at the request time',
    code: 'svid_expired',
    says: /a CA certificate in the chain is expired/,
    build: async () => {
      const old = await createCa({
        trustDomain: 'example.org',
        issuer: root,
        notBefore: new Date(NOW - 10 * DAY),
        notAfter: new Date(NOW - DAY),
      });
      return { pem: (await createSvid(old, ID)).pem + old.pem };
    },
  },
  {
    name: 'leaf two intermediates below a CA with pathLen 0',
    why: 'pathLenConstraint limits how many intermediates may follow',
    code: 'svid_bad_chain',
    says: /violates a CA pathLenConstraint/,
    build: async () => {
      const mid1 = await createCa({ trustDomain: 'example.org', issuer: root, pathLength: 0 });
      const mid2 = await createCa({ trustDomain: 'example.org', issuer: mid1 });
      return { pem: (await createSvid(mid2, ID)).pem + mid2.pem + mid1.pem };
    },
  },
  {
    name: 'leaf with an unknown critical extension',
    why: 'RFC 5280: a critical extension we do not understand must fail the certificate',
    code: 'svid_malformed',
    says: /unsupported critical extension 1\.2\.3\.4\.5/,
    build: async () => ({
      pem: (await createSvid(root, ID, { extensions: [new x509.Extension('1.2.3.4.5', true, new Uint8Array([5, 0]))] }))
        .pem,
    }),
  },
  {
    name: 'a leaf followed by nine more certificates',
    why: 'Envoy sends one certificate; a long presented chain is only a way to spend our CPU',
    code: 'svid_malformed',
    says: /too many certificates were presented/,
    build: async () => {
      const l = await createSvid(intermediate, ID);
      return { pem: l.pem + intermediate.pem.repeat(9) };
    },
  },
  {
    name: 'garbage instead of a certificate',
    why: 'a credential that cannot be decoded is invalid, not absent',
    code: 'svid_malformed',
    says: /the peer certificate could not be decoded/,
    build: async () => ({ pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }),
  },
  {
    name: 'trust domain whose bundle is empty',
    why: 'an empty bundle distrusts the whole domain',
    code: 'svid_untrusted_domain',
    says: /trust domain example\.org has no trust bundle/,
    build: async () => ({ pem: (await createSvid(root, ID)).pem, set: bundleSet({ 'example.org': [] }) }),
  },
];

describe('bad X.509-SVIDs are denied with the right reason', () => {
  it.each(attacks.map((a) => [a.name, a] as const))('%s', async (_name, attack) => {
    const { pem, set, now } = await attack.build();
    const err = denied(pem, set ?? bundles, now ?? NOW);
    expect(err.code, attack.why).toBe(attack.code);
    expect(err.safeMessage).toMatch(attack.says);
    // Secrets never appear in messages: no certificate body.
    expect(err.safeMessage).not.toMatch(/BEGIN|MII/);
  });
});
