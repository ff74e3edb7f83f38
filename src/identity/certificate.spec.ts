import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, createSvid, type Issued } from '../../test/support/pki.js';
import { CertificateParseError, KEY_USAGE, namesIssuer, parseCertificate, signatureVerifies } from './certificate.js';

let root: Issued;
let leaf: Issued;

beforeAll(async () => {
  root = await createCa({ trustDomain: 'example.org' });
  leaf = await createSvid(root, 'spiffe://example.org/w', { dns: ['w.example.org'] });
});

describe('parseCertificate', () => {
  it('reads the fields the SVID rules need', () => {
    const c = parseCertificate(Buffer.from(leaf.der));
    expect(c.uris).toEqual(['spiffe://example.org/w']);
    expect(c.basicConstraints).toEqual({ ca: false, pathLength: null });
    expect(c.keyUsage! & KEY_USAGE.digitalSignature).toBeTruthy();
    expect(c.extKeyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(c.notBefore).toBe(leaf.cert.notBefore.getTime());
    expect(c.notAfter).toBe(leaf.cert.notAfter.getTime());
    expect(c.fingerprint).toBe(leaf.fingerprint);
    expect(c.unknownCritical).toEqual([]);
  });

  it('ignores DNS and IP SANs when reading URI SANs', async () => {
    const c = await createSvid(root, 'spiffe://example.org/x', { dns: ['x.local'], ips: ['127.0.0.1'] });
    expect(parseCertificate(Buffer.from(c.der)).uris).toEqual(['spiffe://example.org/x']);
  });

  it('links a leaf to its issuer by name and key id, and checks the signature', () => {
    const c = parseCertificate(Buffer.from(leaf.der));
    const r = parseCertificate(Buffer.from(root.der));
    expect(namesIssuer(c, r)).toBe(true);
    expect(signatureVerifies(c, r)).toBe(true);
    expect(namesIssuer(r, c)).toBe(false);
    expect(signatureVerifies(c, c)).toBe(false);
  });

  it('fails only with CertificateParseError on any truncation or bit flip (never crashes, never guesses)', () => {
    const der = Buffer.from(leaf.der);
    const r = parseCertificate(Buffer.from(root.der));
    fc.assert(
      fc.property(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, xor, truncate) => {
        const bad = truncate ? der.subarray(0, at) : Buffer.from(der);
        if (!truncate) bad[at]! ^= xor;
        try {
          const c = parseCertificate(bad);
          // A flip that still parses must not verify: the signature covers every byte before it.
          expect(signatureVerifies(c, r)).toBe(false);
        } catch (err) {
          expect(err).toBeInstanceOf(CertificateParseError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
