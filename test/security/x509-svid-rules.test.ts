/**
 * X.509-SVID rules, both sides of each boundary: the instant a certificate becomes (in)valid, the extended key
 * usages a leaf may carry, which CAs may sign, how long a chain may be, and the validity window a cache may reuse a
 * verdict in. Written from the surviving mutants of `src/identity/x509-svid.ts` (docs/mutation/x509.md): each test
 * names the rule it protects. Every certificate is generated here (test/support/pki.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleFromPem } from '../../src/identity/bundle.js';
import type { CertInfo } from '../../src/identity/certificate.js';
import { TrustBundleSet } from '../../src/identity/trust-bundles.js';
import { IdentityError } from '../../src/identity/types.js';
import { verifyX509Svid, verifyX509SvidDetailed, type X509AuthoritySource } from '../../src/identity/x509-svid.js';
import { BASE_TIME, createCa, createCertificate, createSvid, type Issued, x509 } from '../support/pki.js';

const DAY = 86_400_000;
const NOW = BASE_TIME;
const ID = 'spiffe://example.org/ns/default/sa/web';
const EKU_ANY = '2.5.29.37.0';

let root: Issued;
let otherRoot: Issued;
let bundles: TrustBundleSet;

function trusting(td: string, cas: readonly Issued[]): TrustBundleSet {
  const set = new TrustBundleSet();
  set.set(bundleFromPem(td, cas.map((c) => c.pem).join('')));
  return set;
}

/** The refusal; fails the test when the certificate is accepted. */
function denied(pem: string, set: X509AuthoritySource = bundles, now = NOW): IdentityError {
  try {
    verifyX509Svid(pem, set, now);
  } catch (err) {
    if (err instanceof IdentityError) return err;
    throw err;
  }
  throw new Error('expected the certificate to be refused');
}

/** The reason code a refusal carries. */
function refusal(pem: string, set: X509AuthoritySource = bundles, now = NOW): string {
  return denied(pem, set, now).code;
}

/** `count` CAs, each issued by the one before, the first by `top`: [top's child, ..., lowest]. */
async function caChain(top: Issued, count: number, spec: { pathLength?: number } = {}): Promise<Issued[]> {
  const out: Issued[] = [];
  let issuer = top;
  for (let i = 0; i < count; i++) {
    issuer = await createCa({ trustDomain: 'example.org', issuer, subject: `CN=mid ${i}`, ...spec });
    out.push(issuer);
  }
  return out;
}

/** The PEM a peer presents: the leaf, then its intermediates from the lowest up. */
function presented(leaf: Issued, mids: readonly Issued[]): string {
  return (
    leaf.pem +
    [...mids]
      .reverse()
      .map((m) => m.pem)
      .join('')
  );
}

beforeAll(async () => {
  root = await createCa({ trustDomain: 'example.org' });
  otherRoot = await createCa({ trustDomain: 'other.org' });
  bundles = trusting('example.org', [root]);
});

describe('validity is checked at the request instant, boundaries included', () => {
  it('a leaf is valid from its notBefore to its notAfter, both included, and not one millisecond outside', async () => {
    const leaf = await createSvid(root, ID, { notBefore: new Date(NOW - DAY), notAfter: new Date(NOW + DAY) });
    const from = leaf.cert.notBefore.getTime();
    const until = leaf.cert.notAfter.getTime();
    expect(verifyX509Svid(leaf.pem, bundles, from).spiffeId).toBe(ID);
    expect(verifyX509Svid(leaf.pem, bundles, until).spiffeId).toBe(ID);
    expect(refusal(leaf.pem, bundles, from - 1)).toBe('svid_not_yet_valid');
    expect(refusal(leaf.pem, bundles, until + 1)).toBe('svid_expired');
  });

  it('an intermediate is valid from its notBefore to its notAfter, both included, and not outside', async () => {
    const mid = await createCa({
      trustDomain: 'example.org',
      issuer: root,
      notBefore: new Date(NOW - DAY),
      notAfter: new Date(NOW + DAY),
    });
    const leaf = await createSvid(mid, ID, { notBefore: new Date(NOW - 5 * DAY), notAfter: new Date(NOW + 5 * DAY) });
    const pem = leaf.pem + mid.pem;
    expect(verifyX509Svid(pem, bundles, mid.cert.notBefore.getTime()).spiffeId).toBe(ID);
    expect(verifyX509Svid(pem, bundles, mid.cert.notAfter.getTime()).spiffeId).toBe(ID);
    expect(denied(pem, bundles, mid.cert.notBefore.getTime() - 1)).toMatchObject({
      code: 'svid_not_yet_valid',
      safeMessage: 'a CA certificate in the chain is not yet valid',
    });
    expect(denied(pem, bundles, mid.cert.notAfter.getTime() + 1)).toMatchObject({
      code: 'svid_expired',
      safeMessage: 'a CA certificate in the chain is expired',
    });
  });

  it('the verdict holds from the latest notBefore to the earliest notAfter along the chain (what caches reuse)', async () => {
    const mid = await createCa({
      trustDomain: 'example.org',
      issuer: root,
      notBefore: new Date(NOW - DAY / 2),
      notAfter: new Date(NOW + 2 * DAY),
    });
    const leaf = await createSvid(mid, ID, { notBefore: new Date(NOW - 3 * DAY), notAfter: new Date(NOW + 9 * DAY) });
    const v = verifyX509SvidDetailed(leaf.pem + mid.pem, bundles, NOW);
    expect(v.validFrom).toBe(mid.cert.notBefore.getTime());
    expect(v.validUntil).toBe(mid.cert.notAfter.getTime());
    expect(v.peer.expiresAt).toBe(mid.cert.notAfter.getTime());
    // The other way round: the leaf is the narrowest, so its own window is the verdict's.
    const narrow = await createSvid(mid, ID, { notBefore: new Date(NOW - DAY / 4), notAfter: new Date(NOW + DAY) });
    const w = verifyX509SvidDetailed(narrow.pem + mid.pem, bundles, NOW);
    expect([w.validFrom, w.validUntil]).toEqual([narrow.cert.notBefore.getTime(), narrow.cert.notAfter.getTime()]);
  });
});

describe('leaf extensions', () => {
  it('a leaf without basicConstraints is a leaf (accepted); with cA=true it is refused', async () => {
    expect(verifyX509Svid((await createSvid(root, ID, { ca: null })).pem, bundles, NOW).spiffeId).toBe(ID);
    expect(refusal((await createSvid(root, ID, { ca: true })).pem)).toBe('svid_not_leaf');
  });

  it('extendedKeyUsage must allow both clientAuth and serverAuth, or be anyExtendedKeyUsage', async () => {
    const anyEku = new x509.ExtendedKeyUsageExtension([EKU_ANY]);
    const any = await createSvid(root, ID, { extKeyUsage: null, extensions: [anyEku] });
    expect(verifyX509Svid(any.pem, bundles, NOW).spiffeId).toBe(ID);
    expect(refusal((await createSvid(root, ID, { extKeyUsage: ['clientAuth'] })).pem)).toBe('svid_bad_key_usage');
    expect(refusal((await createSvid(root, ID, { extKeyUsage: ['serverAuth'] })).pem)).toBe('svid_bad_key_usage');
    const both = await createSvid(root, ID, { extKeyUsage: ['codeSigning', 'clientAuth', 'serverAuth'] });
    expect(verifyX509Svid(both.pem, bundles, NOW).spiffeId).toBe(ID);
  });

  it('an unknown extension refuses a leaf only when it is critical', async () => {
    const ext = (critical: boolean) => new x509.Extension('1.2.3.4.5', critical, new Uint8Array([5, 0]));
    expect(verifyX509Svid((await createSvid(root, ID, { extensions: [ext(false)] })).pem, bundles, NOW).spiffeId).toBe(
      ID,
    );
    expect(refusal((await createSvid(root, ID, { extensions: [ext(true)] })).pem)).toBe('svid_malformed');
  });
});

describe('which CAs may sign', () => {
  it('an intermediate with an unknown critical extension cannot sign; a non-critical one can', async () => {
    const ext = (critical: boolean) => new x509.Extension('1.2.3.4.5', critical, new Uint8Array([5, 0]));
    const bad = await createCa({ trustDomain: 'example.org', issuer: root, extensions: [ext(true)] });
    const good = await createCa({ trustDomain: 'example.org', issuer: root, extensions: [ext(false)] });
    expect(denied((await createSvid(bad, ID)).pem + bad.pem)).toMatchObject({
      code: 'svid_bad_chain',
      safeMessage: 'a CA in the chain has an unsupported critical extension',
    });
    expect(verifyX509Svid((await createSvid(good, ID)).pem + good.pem, bundles, NOW).spiffeId).toBe(ID);
  });

  it('an intermediate CA needs keyCertSign when it has keyUsage; without keyUsage it may sign', async () => {
    const noSign = await createCa({ trustDomain: 'example.org', issuer: root, keyUsage: ['cRLSign'] });
    const noUsage = await createCa({ trustDomain: 'example.org', issuer: root, keyUsage: null });
    expect(refusal((await createSvid(noSign, ID)).pem + noSign.pem)).toBe('svid_bad_chain');
    expect(verifyX509Svid((await createSvid(noUsage, ID)).pem + noUsage.pem, bundles, NOW).spiffeId).toBe(ID);
  });

  it('an intermediate of another trust domain does not make an example.org leaf trusted', async () => {
    const foreign = await createCa({ trustDomain: 'other.org', issuer: otherRoot });
    const both = new TrustBundleSet();
    both.set(bundleFromPem('example.org', root.pem));
    both.set(bundleFromPem('other.org', otherRoot.pem));
    expect(refusal((await createSvid(foreign, ID)).pem + foreign.pem, both)).toBe('svid_bad_chain');
  });

  it('a re-issued root with the same key: an expired copy in the bundle does not hide the valid one', async () => {
    const old = await createCa({
      trustDomain: 'example.org',
      keys: root.keys,
      subject: root.cert.subject,
      notBefore: new Date(NOW - 9 * DAY),
      notAfter: new Date(NOW - DAY),
    });
    const leaf = await createSvid(root, ID);
    expect(refusal(leaf.pem, trusting('example.org', [old]))).toBe('svid_expired');
    expect(verifyX509Svid(leaf.pem, trusting('example.org', [old, root]), NOW).spiffeId).toBe(ID);
  });

  it('a trust domain whose source hands back no authority at all is untrusted', async () => {
    const empty: X509AuthoritySource = { x509Roots: (): readonly CertInfo[] => [] };
    expect(denied((await createSvid(root, ID)).pem, empty)).toMatchObject({
      code: 'svid_untrusted_domain',
      safeMessage: 'trust domain example.org has no trust bundle',
    });
  });
});

describe('limits on what a peer may present', () => {
  it('a leaf with four intermediates is accepted; with five the chain is too long', async () => {
    const mids = await caChain(root, 5);
    const four = mids.slice(0, 4);
    expect(verifyX509Svid(presented(await createSvid(four[3]!, ID), four), bundles, NOW).spiffeId).toBe(ID);
    expect(denied(presented(await createSvid(mids[4]!, ID), mids))).toMatchObject({
      code: 'svid_bad_chain',
      safeMessage: 'the certificate chain is too long',
    });
  });

  it('eight presented certificates are accepted, nine are refused', async () => {
    const mid = await createCa({ trustDomain: 'example.org', issuer: root });
    const leaf = await createSvid(mid, ID);
    expect(verifyX509Svid(leaf.pem + mid.pem.repeat(7), bundles, NOW).spiffeId).toBe(ID);
    expect(refusal(leaf.pem + mid.pem.repeat(8))).toBe('svid_malformed');
  });

  it('a CA with pathLen 1 may have one intermediate below it, not two', async () => {
    const top = await createCa({ trustDomain: 'example.org', issuer: root, pathLength: 1, subject: 'CN=top' });
    const [one, two] = await caChain(top, 2);
    expect(verifyX509Svid(presented(await createSvid(one!, ID), [top, one!]), bundles, NOW).spiffeId).toBe(ID);
    expect(refusal(presented(await createSvid(two!, ID), [top, one!, two!]))).toBe('svid_bad_chain');
  });

  it('a leaf certificate in the bundle is not an authority for itself', async () => {
    const self = await createCertificate({
      subject: 'CN=self',
      uris: [ID],
      ca: false,
      keyUsage: ['digitalSignature'],
    });
    expect(refusal(self.pem, trusting('example.org', [self]))).toBe('svid_bad_chain');
  });
});
