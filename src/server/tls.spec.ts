import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueLeaf, makeCa } from '../../test/support/tls-pki.js';
import { ReloadingServerCredentials, readTlsMaterial } from './tls.js';

describe('TLS material', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mesh-authz-tls-spec-'));
    const ca = await makeCa();
    const a = await issueLeaf(ca, { dns: ['localhost'] });
    const b = await issueLeaf(ca, { dns: ['localhost'] });
    writeFileSync(join(dir, 'a.pem'), a.certPem);
    writeFileSync(join(dir, 'a.key'), a.keyPem);
    writeFileSync(join(dir, 'b.pem'), b.certPem);
    writeFileSync(join(dir, 'b.key'), b.keyPem);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a key that does not match the certificate, naming the files', () => {
    expect(() =>
      readTlsMaterial({ cert: join(dir, 'a.pem'), key: join(dir, 'b.key'), requireClientCert: false }),
    ).toThrow(/do not form a valid certificate\/key pair .*a\.pem/);
  });

  it('names a missing file', () => {
    expect(() =>
      readTlsMaterial({ cert: join(dir, 'nope.pem'), key: join(dir, 'a.key'), requireClientCert: false }),
    ).toThrow(/cannot read the TLS certificate .*nope\.pem/);
  });

  it('reload keeps the last good pair while a rotation is half written, then swaps', () => {
    const cert = join(dir, 'live.pem');
    const key = join(dir, 'live.key');
    writeFileSync(cert, readFileSync(join(dir, 'a.pem'), 'utf8'));
    writeFileSync(key, readFileSync(join(dir, 'a.key'), 'utf8'));
    const errors: string[] = [];
    const creds = new ReloadingServerCredentials(
      { cert, key, requireClientCert: false },
      { onReloadError: (e) => errors.push(e.code) },
    );
    const first = creds.currentFingerprint;
    expect(creds.reload()).toBe(false); // unchanged
    writeFileSync(cert, readFileSync(join(dir, 'b.pem'), 'utf8')); // new cert, old key: mid-rotation
    expect(creds.reload()).toBe(false);
    expect(errors).toEqual(['tls_invalid']);
    expect(creds.currentFingerprint).toBe(first);
    writeFileSync(key, readFileSync(join(dir, 'b.key'), 'utf8'));
    expect(creds.reload()).toBe(true);
    expect(creds.currentFingerprint).not.toBe(first);
    creds.close();
  });
});
