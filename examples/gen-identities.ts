/**
 * Generates the demo identities for examples/: a SPIFFE trust domain CA (`cluster.local`), X.509-SVIDs for the shop
 * workloads and for mesh-authz itself, an end-user token issuer (JWKS + a few tokens), and the CheckRequest JSON
 * files under examples/requests/ that carry those credentials the way Envoy would.
 *
 * Everything is valid from 2025-01-01 to 2045-01-01 so the committed outputs keep working; the CA private key is
 * NOT written (rerun this script to rotate everything). These are demo credentials: never use them for real.
 *
 *   npm run examples:identities
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as x509 from '@peculiar/x509';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

x509.cryptoProvider.set(webcrypto as never);
type KeyPair = webcrypto.CryptoKeyPair;

const OUT = resolve(process.argv[2] ?? 'examples');
const TRUST_DOMAIN = 'cluster.local';
const ISSUER = 'https://auth.shop.demo';
const AUDIENCE = 'shop';
const NOT_BEFORE = new Date('2025-01-01T00:00:00Z');
const NOT_AFTER = new Date('2045-01-01T00:00:00Z');
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

const newKeys = async () => (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
const keyPem = async (key: webcrypto.CryptoKey) =>
  x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');

function write(rel: string, text: string): void {
  const path = join(OUT, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text.endsWith('\n') ? text : `${text}\n`);
}

async function main(): Promise<void> {
  // 1. The trust domain's root CA (the X.509 trust bundle).
  const caKeys = await newKeys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${TRUST_DOMAIN} demo root CA, O=mesh-authz examples`,
    keys: caKeys as never,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey as never),
      // SPIFFE: a CA may carry the trust domain's SPIFFE ID (no path).
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${TRUST_DOMAIN}` }]),
    ],
  });
  write('identities/bundle.pem', ca.toString('pem'));

  // 2. X.509-SVIDs: exactly one URI SAN, leaf (CA:false), digitalSignature, server+client auth.
  const svid = async (name: string, namespace: string, extra: x509.JsonGeneralName[] = []) => {
    const keys = await newKeys();
    const cert = await x509.X509CertificateGenerator.create({
      subject: `CN=${name}, O=SPIRE demo`,
      issuer: ca.subject,
      publicKey: keys.publicKey as never,
      signingKey: caKeys.privateKey as never,
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'url', value: `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${name}` },
          ...extra,
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(ca),
      ],
    });
    const pem = cert.toString('pem');
    write(`identities/svid/${name}.pem`, pem);
    write(`identities/svid/${name}.key`, await keyPem(keys.privateKey));
    return pem;
  };
  const svids: Record<string, string> = {};
  for (const name of ['frontend', 'orders', 'payments', 'catalog']) svids[name] = await svid(name, 'shop');
  // mesh-authz's own serving certificate (for server.tls): also valid for localhost / 127.0.0.1.
  await svid('mesh-authz', 'mesh-authz', [
    { type: 'dns', value: 'localhost' },
    { type: 'ip', value: '127.0.0.1' },
  ]);

  // 3. End-user tokens: an ES256 issuer, its JWKS, and a few users.
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'demo-2025', alg: 'ES256', use: 'sig' };
  write('identities/jwks.json', JSON.stringify({ keys: [jwk] }, null, 2));
  const token = (sub: string, groups: string[], exp = NOT_AFTER) =>
    new SignJWT({ groups, email: `${sub}@shop.demo` })
      .setProtectedHeader({ alg: 'ES256', kid: 'demo-2025', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(sub)
      .setAudience(AUDIENCE)
      .setIssuedAt(Math.floor(NOT_BEFORE.getTime() / 1000))
      .setNotBefore(Math.floor(NOT_BEFORE.getTime() / 1000))
      .setExpirationTime(Math.floor(exp.getTime() / 1000))
      .sign(privateKey);
  const tokens = {
    alice: await token('alice', ['customers']),
    carol: await token('carol', ['customers', 'catalog-admins']),
    expired: await token('mallory', ['catalog-admins'], new Date('2025-01-02T00:00:00Z')),
  };
  for (const [name, t] of Object.entries(tokens)) write(`identities/tokens/${name}.jwt`, t);

  // 4. CheckRequests as Envoy sends them (include_peer_certificate: the leaf, PEM, URL-encoded).
  const request = (from: string, to: string, method: string, path: string, headers: Record<string, string> = {}) => ({
    attributes: {
      source: {
        address: { socketAddress: { address: '10.0.1.10', portValue: 51234 } },
        principal: `spiffe://${TRUST_DOMAIN}/ns/shop/sa/${from}`,
        certificate: encodeURIComponent(svids[from]!),
      },
      destination: {
        address: { socketAddress: { address: '10.0.2.20', portValue: 8080 } },
        principal: `spiffe://${TRUST_DOMAIN}/ns/shop/sa/${to}`,
      },
      request: {
        time: '2026-06-01T12:00:00Z',
        http: {
          id: '4242',
          method,
          path,
          host: `${to}.shop.svc.cluster.local`,
          scheme: 'http',
          protocol: 'HTTP/1.1',
          headers: {
            ':authority': `${to}.shop.svc.cluster.local`,
            ':method': method,
            ':path': path,
            'x-request-id': `demo-${from}-${to}`,
            ...headers,
          },
        },
      },
      contextExtensions: { namespace: 'shop', app: to },
    },
  });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const requests: Record<string, unknown> = {
    'allowed.json': request('frontend', 'orders', 'GET', '/orders/42'),
    'denied.json': request('catalog', 'payments', 'POST', '/payments/charge'),
    'denied-by-deny-policy.json': request('orders', 'payments', 'GET', '/payments/admin/refunds'),
    'user-allowed.json': request('frontend', 'catalog', 'POST', '/catalog/items', bearer(tokens.carol)),
    'user-denied.json': request('frontend', 'catalog', 'POST', '/catalog/items', bearer(tokens.alice)),
    'expired-token.json': request('frontend', 'catalog', 'POST', '/catalog/items', bearer(tokens.expired)),
  };
  for (const [name, body] of Object.entries(requests)) write(`requests/${name}`, JSON.stringify(body, null, 2));
  process.stdout.write(`demo identities and requests written under ${OUT}\n`);
}

await main();
