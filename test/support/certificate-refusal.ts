import { expect } from 'vitest';
import { CertificateParseError, parseCertificate } from '../../src/identity/certificate.js';

/** Why `parseCertificate` refuses `der` (its message); fails the test when it is accepted or fails another way. */
export function certificateRefusal(der: Buffer): string {
  try {
    parseCertificate(der);
  } catch (err) {
    expect(err).toBeInstanceOf(CertificateParseError);
    return (err as Error).message;
  }
  throw new Error('expected the certificate to be refused');
}
