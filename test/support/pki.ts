/**
 * Test PKI: certificate authorities, intermediates and leaves generated in the test with @peculiar/x509, for every
 * suite in the project (identity attacks, TLS end-to-end, the reconciler's fixtures...). Nothing here is secret or
 * long-lived: keys are generated per run.
 *
 * ```ts
 * const root = await createCa({ trustDomain: 'example.org' });
 * const mid = await createCa({ trustDomain: 'example.org', issuer: root });
 * const leaf = await createSvid(mid, 'spiffe://example.org/ns/default/sa/web');
 * leaf.pem; leaf.keyPem; envoyEncode(leaf.pem);
 * ```
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;
type EcKeyGenParams = webcrypto.EcKeyGenParams;
type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;

import * as x509 from '@peculiar/x509';
import { exportJWK, type JWK, SignJWT } from 'jose';

/** @peculiar/x509 itself, for tests that build custom extensions: import it from here (after the polyfill). */
export { x509 };

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type KeyAlgorithm = 'ec-p256' | 'ec-p384' | 'rsa-2048';
export type KeyUsageName =
  | 'digitalSignature'
  | 'nonRepudiation'
  | 'keyEncipherment'
  | 'dataEncipherment'
  | 'keyAgreement'
  | 'keyCertSign'
  | 'cRLSign';
export type ExtKeyUsageName = 'serverAuth' | 'clientAuth' | 'codeSigning' | 'emailProtection';

/** A generated certificate with its keys, in every form a test needs. */
export interface Issued {
  readonly cert: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
  /** PEM of the certificate alone. */
  readonly pem: string;
  readonly der: Uint8Array;
  /** PKCS#8 PEM of the private key (for TLS servers and clients). */
  readonly keyPem: string;
  readonly keyAlgorithm: KeyAlgorithm;
  /** Lowercase hex SHA-256 of the DER. */
  readonly fingerprint: string;
}

export interface CertSpec {
  /** Subject DN, e.g. `CN=web, O=example`. Default `CN=test`. */
  readonly subject?: string;
  /** URI SANs, in order (a SPIFFE ID goes here). */
  readonly uris?: readonly string[];
  readonly dns?: readonly string[];
  /** IP address SANs (e.g. `127.0.0.1`, `::1`) for TLS servers on loopback. */
  readonly ips?: readonly string[];
  /** `true`/`false` writes basicConstraints with that cA flag; `null` omits the extension. Default false. */
  readonly ca?: boolean | null;
  readonly pathLength?: number;
  /** `null` omits keyUsage. Default: CAs `keyCertSign, cRLSign`; leaves `digitalSignature, keyEncipherment`. */
  readonly keyUsage?: readonly KeyUsageName[] | null;
  /** `null` (default) omits extendedKeyUsage. */
  readonly extKeyUsage?: readonly ExtKeyUsageName[] | null;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** The signer; omitted → self-signed. */
  readonly issuer?: Issued;
  /** Default `ec-p256`. */
  readonly keyAlgorithm?: KeyAlgorithm;
  /** Reuse a key pair (e.g. to re-issue a certificate for the same key). */
  readonly keys?: CryptoKeyPair;
  /** Any further extensions, e.g. an unknown critical one. */
  readonly extensions?: readonly x509.Extension[];
  /** Hex serial number; random by default. */
  readonly serialNumber?: string;
}

/** A fixed base instant for frozen-clock tests: 2026-01-01T00:00:00Z. */
export const BASE_TIME = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

const USAGE_FLAGS: Readonly<Record<KeyUsageName, x509.KeyUsageFlags>> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  nonRepudiation: x509.KeyUsageFlags.nonRepudiation,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
  keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign,
};

const EKU: Readonly<Record<ExtKeyUsageName, x509.ExtendedKeyUsage>> = {
  serverAuth: x509.ExtendedKeyUsage.serverAuth,
  clientAuth: x509.ExtendedKeyUsage.clientAuth,
  codeSigning: x509.ExtendedKeyUsage.codeSigning,
  emailProtection: x509.ExtendedKeyUsage.emailProtection,
};

function keyParams(alg: KeyAlgorithm): { gen: EcKeyGenParams | RsaHashedKeyGenParams; sign: Algorithm | EcdsaParams } {
  switch (alg) {
    case 'ec-p256':
      return { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams };
    case 'ec-p384':
      return { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams };
    case 'rsa-2048':
      return {
        gen: {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
        sign: { name: 'RSASSA-PKCS1-v1_5' },
      };
  }
}

export async function generateKeys(alg: KeyAlgorithm = 'ec-p256'): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(keyParams(alg).gen, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Generates one certificate as the spec says. Everything not given gets a sensible default. */
export async function createCertificate(spec: CertSpec = {}): Promise<Issued> {
  const keyAlgorithm = spec.keys ? (spec.keyAlgorithm ?? 'ec-p256') : (spec.keyAlgorithm ?? 'ec-p256');
  const keys = spec.keys ?? (await generateKeys(keyAlgorithm));
  const ca = spec.ca === undefined ? false : spec.ca;
  const extensions: x509.Extension[] = [];
  if (ca !== null) extensions.push(new x509.BasicConstraintsExtension(ca, spec.pathLength, true));
  const usage =
    spec.keyUsage === undefined
      ? ca
        ? (['keyCertSign', 'cRLSign'] as const)
        : (['digitalSignature', 'keyEncipherment'] as const)
      : spec.keyUsage;
  if (usage !== null) {
    let flags = 0;
    for (const u of usage) flags |= USAGE_FLAGS[u];
    extensions.push(new x509.KeyUsagesExtension(flags, true));
  }
  if (spec.extKeyUsage) extensions.push(new x509.ExtendedKeyUsageExtension(spec.extKeyUsage.map((u) => EKU[u])));
  const names: x509.JsonGeneralName[] = [
    ...(spec.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(spec.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(spec.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (spec.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(spec.issuer.cert));
  extensions.push(...(spec.extensions ?? []));
  const subject = spec.subject ?? 'CN=test';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: spec.serialNumber ?? Buffer.from(webcrypto.getRandomValues(new Uint8Array(12))).toString('hex'),
    subject,
    issuer: spec.issuer ? spec.issuer.cert.subject : subject,
    notBefore: spec.notBefore ?? new Date(BASE_TIME - DAY),
    notAfter: spec.notAfter ?? new Date(BASE_TIME + 365 * DAY),
    signingAlgorithm: keyParams(spec.issuer?.keyAlgorithm ?? keyAlgorithm).sign,
    publicKey: keys.publicKey,
    signingKey: spec.issuer ? spec.issuer.keys.privateKey : keys.privateKey,
    extensions,
  });
  const der = new Uint8Array(cert.rawData);
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const digest = await webcrypto.subtle.digest('SHA-256', der);
  return {
    cert,
    keys,
    pem: toPem('CERTIFICATE', der),
    der,
    keyPem: toPem('PRIVATE KEY', pkcs8),
    keyAlgorithm,
    fingerprint: Buffer.from(digest).toString('hex'),
  };
}

export interface CaSpec extends Omit<CertSpec, 'ca' | 'uris'> {
  /** Adds the URI SAN `spiffe://<trustDomain>` (a CA's SPIFFE ID has no path). */
  readonly trustDomain?: string;
}

/** A CA (root when no issuer, else an intermediate): cA=true, keyCertSign + cRLSign. */
export function createCa(spec: CaSpec = {}): Promise<Issued> {
  return createCertificate({
    subject: spec.subject ?? `CN=${spec.issuer ? 'intermediate' : 'root'} ${spec.trustDomain ?? 'ca'}`,
    ...spec,
    ca: true,
    uris: spec.trustDomain ? [`spiffe://${spec.trustDomain}`] : [],
  });
}

/** A well-formed X.509-SVID leaf for `spiffeId`, signed by `issuer`. Override any field to build a bad one. */
export function createSvid(issuer: Issued, spiffeId: string, spec: CertSpec = {}): Promise<Issued> {
  return createCertificate({
    subject: 'CN=workload, O=SPIFFE',
    uris: [spiffeId],
    ca: false,
    keyUsage: ['digitalSignature', 'keyEncipherment', 'keyAgreement'],
    extKeyUsage: ['serverAuth', 'clientAuth'],
    issuer,
    ...spec,
  });
}

/** A plain TLS server certificate (DNS/IP names), for TLS tests that need no SPIFFE ID. */
export function createServerCert(issuer: Issued, dns: readonly string[], spec: CertSpec = {}): Promise<Issued> {
  return createCertificate({
    subject: `CN=${dns[0] ?? 'server'}`,
    dns,
    ca: false,
    keyUsage: ['digitalSignature', 'keyEncipherment'],
    extKeyUsage: ['serverAuth', 'clientAuth'],
    issuer,
    ...spec,
  });
}

/** The certificate as Envoy sends it in `source.certificate` and XFCC `Cert=`: URL-encoded PEM. */
export function envoyEncode(pem: string): string {
  return encodeURIComponent(pem);
}

/** The same certificate with one bit of its signature flipped (the last byte of the DER is signature). */
export function tamperSignature(issued: Issued): string {
  const der = Uint8Array.from(issued.der);
  der[der.length - 1]! ^= 0x01;
  return toPem('CERTIFICATE', der);
}

/** A SPIFFE bundle document (JWK Set) holding these CAs as `x509-svid` keys and JWT keys as `jwt-svid`. */
export async function spiffeBundle(
  cas: readonly Issued[],
  jwtKeys: readonly { kid: string; publicKey: CryptoKey }[] = [],
  extra: { sequence?: number; refreshHint?: number } = {},
): Promise<Record<string, unknown>> {
  const keys: JWK[] = [];
  for (const ca of cas) {
    const jwk = await exportJWK(ca.keys.publicKey);
    keys.push({ ...jwk, use: 'x509-svid', x5c: [Buffer.from(ca.der).toString('base64')] });
  }
  for (const k of jwtKeys) keys.push({ ...(await exportJWK(k.publicKey)), use: 'jwt-svid', kid: k.kid });
  return {
    keys,
    ...(extra.sequence === undefined ? {} : { spiffe_sequence: extra.sequence }),
    ...(extra.refreshHint === undefined ? {} : { spiffe_refresh_hint: extra.refreshHint }),
  };
}

/** An OIDC-style token issuer with its own signing key and JWKS, for JWT tests. */
export interface TokenIssuer {
  readonly issuer: string;
  readonly kid: string;
  readonly alg: string;
  readonly keys: CryptoKeyPair;
  /** `{ keys: [publicJwk] }`. */
  readonly jwks: { keys: JWK[] };
  /** Signs `claims` (iss and kid filled in; iat/exp default around `now`). */
  sign(
    claims: Record<string, unknown>,
    options?: { now?: number; ttlSeconds?: number; header?: Record<string, unknown> },
  ): Promise<string>;
}

export async function createTokenIssuer(
  issuer: string,
  options: { kid?: string; alg?: 'ES256' | 'RS256' | 'PS256' | 'ES384' } = {},
): Promise<TokenIssuer> {
  const alg = options.alg ?? 'ES256';
  const kid = options.kid ?? `${alg.toLowerCase()}-1`;
  const gen: EcKeyGenParams | RsaHashedKeyGenParams = alg.startsWith('ES')
    ? { name: 'ECDSA', namedCurve: alg === 'ES384' ? 'P-384' : 'P-256' }
    : {
        name: alg === 'PS256' ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5',
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
  const keys = (await webcrypto.subtle.generateKey(gen, true, ['sign', 'verify'])) as CryptoKeyPair;
  const publicJwk = { ...(await exportJWK(keys.publicKey)), kid, alg, use: 'sig' };
  return {
    issuer,
    kid,
    alg,
    keys,
    jwks: { keys: [publicJwk] },
    async sign(claims, opts = {}) {
      const now = Math.floor((opts.now ?? BASE_TIME) / 1000);
      const body = { iss: issuer, iat: now, exp: now + (opts.ttlSeconds ?? 3600), ...claims };
      return new SignJWT(body).setProtectedHeader({ alg, kid, typ: 'JWT', ...opts.header }).sign(keys.privateKey);
    },
  };
}
