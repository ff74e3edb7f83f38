/**
 * Certificate structure, part by part: a generated leaf is re-assembled with one part replaced, and the parser must
 * refuse it naming that part (the operator reads which part is wrong in the refusal's cause), or read the variant
 * the standard allows (no version field, an explicit non-critical flag, an AKI without a key id). The signature no
 * longer matches after an edit, but decoding comes first, so each case reaches the rule it names.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/identity/certificate.js';
import { certificateRefusal } from '../support/certificate-refusal.js';
import { children, tlv } from '../support/der.js';
import { createCa, createSvid, type Issued } from '../support/pki.js';

let leaf: Issued;

const NULL = Buffer.from([0x05, 0x00]);
const SEQ = 0x30;
const OID = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));
const OCTETS = (...content: Buffer[]) => tlv(0x04, ...content);
const ext = (oidHex: string, value: Buffer, critical?: boolean) =>
  tlv(
    SEQ,
    OID(oidHex),
    ...(critical === undefined ? [] : [tlv(0x01, Buffer.from([critical ? 0xff : 0]))]),
    OCTETS(value),
  );
const BASIC = '551d13';
const EKU = '551d25';
const SAN = '551d11';
const SKI = '551d0e';
const AKI = '551d23';

/** The leaf with TBS part `i` replaced (`null` removes it); with `outer`, the certificate's own three parts edited. */
function rebuild(edit: { tbs?: Record<number, Buffer | null>; outer?: Record<number, Buffer> }): Buffer {
  const [tbs, alg, sig] = children(Buffer.from(leaf.der));
  const t = children(tbs!).flatMap((p, i) => {
    const r = edit.tbs?.[i];
    return r === undefined ? [p] : r === null ? [] : [r];
  });
  const top = [tlv(SEQ, ...t), alg!, sig!].map((p, i) => edit.outer?.[i] ?? p);
  return tlv(SEQ, ...top);
}

/** The leaf with its extensions replaced by `exts`. */
function withExtensions(...exts: Buffer[]): Buffer {
  return rebuild({ tbs: { 7: tlv(0xa3, tlv(SEQ, ...exts)) } });
}

beforeAll(async () => {
  leaf = await createSvid(await createCa({ trustDomain: 'example.org' }), 'spiffe://example.org/w');
});

describe('each part of a certificate is checked for its type', () => {
  const cases: readonly [string, () => Buffer, RegExp][] = [
    ['the certificate itself', () => tlv(0x31, ...children(Buffer.from(leaf.der))), /expected Certificate$/],
    ['tbsCertificate', () => rebuild({ outer: { 0: NULL } }), /expected TBSCertificate$/],
    ['signatureAlgorithm', () => rebuild({ outer: { 1: NULL } }), /expected signatureAlgorithm$/],
    ['signatureValue', () => rebuild({ outer: { 2: NULL } }), /expected signatureValue$/],
    ['serialNumber', () => rebuild({ tbs: { 1: NULL } }), /expected serialNumber$/],
    ['signature (in the TBS)', () => rebuild({ tbs: { 2: NULL } }), /expected signature$/],
    ['issuer', () => rebuild({ tbs: { 3: NULL } }), /expected issuer$/],
    ['validity', () => rebuild({ tbs: { 4: NULL } }), /expected Validity$/],
    ['subject', () => rebuild({ tbs: { 5: NULL } }), /expected subject$/],
    ['subjectPublicKeyInfo', () => rebuild({ tbs: { 6: NULL } }), /expected subjectPublicKeyInfo$/],
    [
      'the algorithm OID',
      () => rebuild({ tbs: { 2: tlv(SEQ, NULL) }, outer: { 1: tlv(SEQ, NULL) } }),
      /expected algorithm$/,
    ],
    ['the extensions list', () => rebuild({ tbs: { 7: tlv(0xa3, NULL) } }), /expected Extensions$/],
    ['an extension', () => withExtensions(NULL), /expected Extension$/],
    ['an extension id', () => withExtensions(tlv(SEQ, NULL, OCTETS(NULL))), /expected extnID$/],
    ['an extension value', () => withExtensions(tlv(SEQ, OID(SKI), NULL)), /expected extnValue$/],
    ['basicConstraints', () => withExtensions(ext(BASIC, NULL)), /expected BasicConstraints$/],
    ['extendedKeyUsage', () => withExtensions(ext(EKU, NULL)), /expected ExtKeyUsage$/],
    ['a key purpose', () => withExtensions(ext(EKU, tlv(SEQ, NULL))), /expected KeyPurposeId$/],
    ['subjectAltName', () => withExtensions(ext(SAN, NULL)), /expected GeneralNames$/],
    ['subjectKeyIdentifier', () => withExtensions(ext(SKI, NULL)), /expected SubjectKeyIdentifier$/],
    ['authorityKeyIdentifier', () => withExtensions(ext(AKI, NULL)), /expected AuthorityKeyIdentifier$/],
  ];
  it.each(cases)('%s of the wrong type is refused, naming it', (_name, build, message) => {
    expect(certificateRefusal(build())).toMatch(/^the certificate is malformed: /);
    expect(certificateRefusal(build())).toMatch(message);
  });

  it('a validity without notAfter, or empty, is refused naming the missing time', () => {
    const [, , , , validity] = children(children(Buffer.from(leaf.der))[0]!);
    const [notBefore] = children(validity!);
    expect(certificateRefusal(rebuild({ tbs: { 4: tlv(SEQ, notBefore!) } }))).toMatch(/missing notAfter$/);
    expect(certificateRefusal(rebuild({ tbs: { 4: tlv(SEQ) } }))).toMatch(/missing notBefore$/);
  });

  it('a huge validity time is a malformed certificate, not an internal error', () => {
    const huge = tlv(0x17, Buffer.alloc(2_000_000, 0x30));
    expect(certificateRefusal(rebuild({ tbs: { 4: tlv(SEQ, huge, huge) } }))).toMatch(/bad certificate time$/);
  });
});

describe('variants the standard allows are read', () => {
  it('a TBS without the version field (v1 layout) is read from the serial number on', () => {
    const c = parseCertificate(rebuild({ tbs: { 0: null } }));
    expect(c.uris).toEqual(['spiffe://example.org/w']);
    expect(c.notAfter).toBe(leaf.cert.notAfter.getTime());
  });

  it('no extensions at all: every extension field is absent', () => {
    const c = parseCertificate(rebuild({ tbs: { 7: null } }));
    expect(c).toMatchObject({ basicConstraints: null, keyUsage: null, extKeyUsage: null, uris: [] });
    expect([c.subjectKeyId, c.authorityKeyId, c.unknownCritical]).toEqual([null, null, []]);
  });

  it('criticality: explicit FALSE is not critical, TRUE is; only unknown critical extensions are listed', () => {
    const unknown = '2a0304';
    const c = parseCertificate(
      withExtensions(ext(unknown, NULL, false), ext(BASIC, tlv(SEQ), true), ext('2a0305', NULL, true)),
    );
    expect(c.unknownCritical).toEqual(['1.2.3.5']);
    expect(c.basicConstraints).toEqual({ ca: false, pathLength: null });
  });

  it('basicConstraints: cA and pathLenConstraint, in either presence', () => {
    const bc = (...content: Buffer[]) => parseCertificate(withExtensions(ext(BASIC, tlv(SEQ, ...content))));
    const TRUE = tlv(0x01, Buffer.from([0xff]));
    const INT = (n: number) => tlv(0x02, Buffer.from([n]));
    expect(bc(TRUE, INT(2)).basicConstraints).toEqual({ ca: true, pathLength: 2 });
    expect(bc(TRUE).basicConstraints).toEqual({ ca: true, pathLength: null });
    expect(bc(INT(0)).basicConstraints).toEqual({ ca: false, pathLength: 0 });
  });

  it('SKI and AKI key ids are the raw identifier bytes; an AKI without a key id has none', () => {
    const id = Buffer.from('0102030405', 'hex');
    const c = parseCertificate(withExtensions(ext(SKI, OCTETS(id)), ext(AKI, tlv(SEQ, tlv(0x80, id)))));
    expect(c.subjectKeyId?.equals(id)).toBe(true);
    expect(c.authorityKeyId?.equals(id)).toBe(true);
    const serialOnly = parseCertificate(withExtensions(ext(AKI, tlv(SEQ, tlv(0x82, Buffer.from([1]))))));
    expect(serialOnly.authorityKeyId).toBeNull();
  });

  it('only uniformResourceIdentifier names are URIs (a DNS name with the same text is not)', () => {
    const san = (tag: number) => ext(SAN, tlv(SEQ, tlv(tag, Buffer.from('spiffe://example.org/w'))));
    expect(parseCertificate(withExtensions(san(0x86))).uris).toEqual(['spiffe://example.org/w']);
    expect(parseCertificate(withExtensions(san(0x82))).uris).toEqual([]);
  });
});
