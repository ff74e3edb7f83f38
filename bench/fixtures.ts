import { webcrypto } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { WireCheckRequest } from '../src/authz/wire-types.js';
import { checkRequestBody } from './frame.js';

/**
 * The benchmark's realistic load, generated into a folder: a trust domain CA and caller SVIDs, an end-user JWT
 * issuer (JWKS + tokens with groups), 1,000 workloads (100 namespaces × 10 apps) with 10 rules each (9 ALLOW rules
 * over callers, paths and groups + 1 DENY rule) = 10,000 rules, and pre-encoded gRPC CheckRequest bodies: a hot set
 * of distinct requests (allowed and denied) and templates whose path can be patched in place to make fresh ones.
 * Deterministic (seeded), so runs compare.
 */

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const TRUST_DOMAIN = 'cluster.local';
export const ISSUER = 'https://idp.bench.local';
export const AUDIENCE = 'mesh';
/** Digits patched into a template's path to make a fresh, never-seen request of the same length. */
export const FRESH_PLACEHOLDER = 'ZZZZZZZZZZ';

export interface FixtureOptions {
  readonly namespaces: number;
  readonly appsPerNamespace: number;
  /** Caller identities with certificates (drawn from the workloads). */
  readonly callers: number;
  readonly users: number;
  /** Distinct requests in the hot set. */
  readonly hotRequests: number;
  /** Share of hot requests built to be denied. */
  readonly denyShare: number;
}

export const DEFAULT_FIXTURE: FixtureOptions = {
  namespaces: 100,
  appsPerNamespace: 10,
  callers: 50,
  users: 20,
  hotRequests: 2000,
  denyShare: 0.3,
};

/**
 * A pre-encoded request whose path holds {@link FRESH_PLACEHOLDER} at each of `offsets` (bytes into the framed
 * body: `http.path` and the `:path` header). Patching digits of the same length leaves every protobuf length intact.
 */
export interface FreshTemplate {
  readonly body: Buffer;
  readonly offsets: readonly number[];
}

export interface BenchFixture {
  readonly dir: string;
  readonly policyDir: string;
  readonly caPath: string;
  readonly jwksPath: string;
  readonly hot: readonly Buffer[];
  /** Which hot requests the policies should allow (a sanity check on the fixture, from its own model). */
  readonly hotAllowed: readonly boolean[];
  readonly fresh: readonly FreshTemplate[];
  readonly summary: { workloads: number; rules: number; policies: number; callers: number; users: number };
}

/** A small seeded PRNG (mulberry32): the same fixture on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ns = (i: number) => `ns-${String(i).padStart(3, '0')}`;
const app = (j: number) => `app-${j}`;
const group = (g: number) => `group-${g}`;

interface Caller {
  readonly namespace: string;
  readonly sa: string;
  readonly certificate: string;
}
interface User {
  readonly subject: string;
  readonly groups: readonly string[];
  readonly token: string;
}

/** Rule k of workload (i, j): who may call, on which path prefix, and which group is required (if any). */
function ruleOf(i: number, j: number, k: number, callers: number, groups: number) {
  const h = (i * 7919 + j * 104_729 + k * 1_299_709) >>> 0;
  return { caller: h % callers, pathPrefix: `/api/v1/r${k}/`, group: k % 3 === 0 ? (h >>> 3) % groups : null };
}

export async function generateFixture(dir: string, options: FixtureOptions = DEFAULT_FIXTURE): Promise<BenchFixture> {
  const rand = prng(0x5eed);
  const policyDir = join(dir, 'policies');
  await mkdir(policyDir, { recursive: true });
  const groups = 10;
  const now = Date.now();

  // Trust domain CA and caller SVIDs (EC P-256, valid for a day either side of now).
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const caKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(now - 86_400_000);
  const notAfter = new Date(now + 86_400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=bench root,O=mesh-authz bench',
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${TRUST_DOMAIN}` }]),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const caPath = join(dir, 'ca.pem');
  await writeFile(caPath, ca.toString('pem'));

  const leafKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const callers: Caller[] = [];
  for (let c = 0; c < options.callers; c++) {
    const namespace = ns(c % options.namespaces);
    const sa = app(Math.floor(c / options.namespaces) % options.appsPerNamespace);
    const leaf = await x509.X509CertificateGenerator.create({
      subject: `O=mesh-authz bench`,
      issuer: ca.subject,
      publicKey: leafKeys.publicKey,
      signingKey: caKeys.privateKey,
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.SubjectAlternativeNameExtension(
          [{ type: 'url', value: `spiffe://${TRUST_DOMAIN}/ns/${namespace}/sa/${sa}` }],
          true,
        ),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      ],
    });
    // Envoy's include_peer_certificate sends the URL-encoded PEM of the leaf.
    callers.push({ namespace, sa, certificate: encodeURIComponent(leaf.toString('pem')) });
  }

  // End-user JWT issuer: ES256 key, JWKS file, one token per user with two groups.
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'ES256', use: 'sig' };
  const jwksPath = join(dir, 'jwks.json');
  await writeFile(jwksPath, JSON.stringify({ keys: [jwk] }));
  const users: User[] = [];
  for (let u = 0; u < options.users; u++) {
    const userGroups = [group(u % groups), group((u + 3) % groups)];
    const token = await new SignJWT({ groups: userGroups })
      .setProtectedHeader({ alg: 'ES256', kid: 'bench-1' })
      .setIssuer(ISSUER)
      .setSubject(`user-${u}`)
      .setAudience(AUDIENCE)
      .setIssuedAt(Math.floor((now - 60_000) / 1000))
      .setExpirationTime(Math.floor(notAfter.getTime() / 1000))
      .sign(privateKey);
    users.push({ subject: `user-${u}`, groups: userGroups, token });
  }

  // Policies: per workload one ALLOW policy with 9 rules and one DENY policy with 1 rule.
  let rules = 0;
  let policies = 0;
  for (let i = 0; i < options.namespaces; i++) {
    const docs: string[] = [];
    for (let j = 0; j < options.appsPerNamespace; j++) {
      const allowRules: string[] = [];
      for (let k = 0; k < 9; k++) {
        const r = ruleOf(i, j, k, options.callers, groups);
        const caller = callers[r.caller]!;
        let rule =
          `  - from:\n    - source:\n        principals: ["${TRUST_DOMAIN}/ns/${caller.namespace}/sa/${caller.sa}"]\n` +
          `    to:\n    - operation:\n        methods: ["GET", "POST"]\n        paths: ["${r.pathPrefix}*"]\n`;
        if (r.group !== null) {
          rule += `    when:\n    - key: request.auth.claims[groups]\n      values: ["${group(r.group)}"]\n`;
        }
        allowRules.push(rule);
        rules++;
      }
      docs.push(
        `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ${app(j)}-allow\n` +
          `  namespace: ${ns(i)}\nspec:\n  selector:\n    matchLabels:\n      app: ${app(j)}\n  action: ALLOW\n` +
          `  rules:\n${allowRules.join('')}`,
        `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ${app(j)}-deny-admin\n` +
          `  namespace: ${ns(i)}\nspec:\n  selector:\n    matchLabels:\n      app: ${app(j)}\n  action: DENY\n` +
          `  rules:\n  - to:\n    - operation:\n        paths: ["/admin/*"]\n`,
      );
      rules++;
      policies += 2;
    }
    await writeFile(join(policyDir, `${ns(i)}.yaml`), docs.join('---\n'));
  }

  // Requests.
  const request = (i: number, j: number, caller: Caller | null, user: User | null, method: string, path: string) => {
    const headers: Record<string, string> = {
      ':authority': `${app(j)}.${ns(i)}.svc.cluster.local`,
      ':method': method,
      ':path': path,
      'user-agent': 'bench/1.0',
      'x-request-id': '00000000-0000-4000-8000-000000000000',
      'x-forwarded-proto': 'https',
    };
    if (user) headers.authorization = `Bearer ${user.token}`;
    const wire: WireCheckRequest = {
      attributes: {
        source: {
          address: { socketAddress: { address: '10.1.0.7', portValue: 43_210 } },
          principal: caller ? `spiffe://${TRUST_DOMAIN}/ns/${caller.namespace}/sa/${caller.sa}` : '',
          certificate: caller ? caller.certificate : '',
        },
        destination: {
          address: { socketAddress: { address: '10.2.0.9', portValue: 8080 } },
          principal: `spiffe://${TRUST_DOMAIN}/ns/${ns(i)}/sa/${app(j)}`,
        },
        contextExtensions: { namespace: ns(i), app: app(j) },
        request: {
          time: { seconds: Math.floor(now / 1000), nanos: 0 },
          http: {
            id: '1',
            method,
            path,
            host: `${app(j)}.${ns(i)}.svc.cluster.local`,
            scheme: 'https',
            protocol: 'HTTP/2',
            headers,
          },
        },
        tlsSession: { sni: `outbound_.8080_._.${app(j)}.${ns(i)}.svc.cluster.local` },
      },
    };
    return wire;
  };

  const pickUser = (g: number | null): User | null => {
    if (g === null) return rand() < 0.5 ? null : users[Math.floor(rand() * users.length)]!;
    const fits = users.filter((u) => u.groups.includes(group(g)));
    return fits[Math.floor(rand() * fits.length)]!;
  };

  const hot: Buffer[] = [];
  const hotAllowed: boolean[] = [];
  const fresh: FreshTemplate[] = [];
  for (let n = 0; n < options.hotRequests; n++) {
    const i = Math.floor(rand() * options.namespaces);
    const j = Math.floor(rand() * options.appsPerNamespace);
    const k = Math.floor(rand() * 9);
    const r = ruleOf(i, j, k, options.callers, groups);
    let caller: Caller | null = callers[r.caller]!;
    let user = pickUser(r.group);
    let pathFor = (item: string) => `${r.pathPrefix}item-${item}`;
    let allowed = true;
    if (rand() < options.denyShare) {
      const how = Math.floor(rand() * 3);
      if (how === 0)
        pathFor = (item) => `/admin/item-${item}`; // the DENY policy
      else if (how === 1)
        pathFor = (item) => `/api/v1/r9/item-${item}`; // no ALLOW rule has r9
      else caller = null; // no client certificate: anonymous, and every ALLOW rule names a principal
      user = how === 2 ? null : user;
      allowed = false;
    }
    const method = rand() < 0.8 ? 'GET' : 'POST';
    hot.push(checkRequestBody(request(i, j, caller, user, method, pathFor(String(n)))));
    hotAllowed.push(allowed);
    if (n < 200) {
      // A template of the same request with a patchable path: fresh requests keep the allow/deny mix.
      const body = checkRequestBody(request(i, j, caller, user, method, pathFor(FRESH_PLACEHOLDER)));
      const offsets: number[] = [];
      const needle = Buffer.from(FRESH_PLACEHOLDER);
      for (let at = body.indexOf(needle); at >= 0; at = body.indexOf(needle, at + 1)) offsets.push(at);
      if (offsets.length === 0) throw new Error('fresh template placeholder not found');
      fresh.push({ body, offsets });
    }
  }
  return {
    dir,
    policyDir,
    caPath,
    jwksPath,
    hot,
    hotAllowed,
    fresh,
    summary: {
      workloads: options.namespaces * options.appsPerNamespace,
      rules,
      policies,
      callers: options.callers,
      users: options.users,
    },
  };
}
