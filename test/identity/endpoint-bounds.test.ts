/**
 * The JWKS and bundle endpoints an operator configures are inputs too: an endpoint that sends too much, never
 * answers, or trickles its body must end in a clear error within the bounds, while the last good keys keep serving.
 * A real HTTP server on loopback plays each endpoint (plain http is allowed only to loopback).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchDocument, MAX_DOCUMENT_BYTES } from '../../src/sources/http-document.js';
import { RemoteJwks } from '../../src/sources/jwks.js';
import { TrustBundleLoader } from '../../src/sources/trust-bundles.js';
import { BASE_TIME, createCa, createTokenIssuer, type Issued, spiffeBundle, type TokenIssuer } from '../support/pki.js';

let server: Server;
let base: string;
let issuer: TokenIssuer;
let ca: Issued;
/** What `/doc` serves now, and how `/switch` answers: with `/doc`'s document, too much, or never. */
let doc: unknown;
let mode: 'good' | 'huge' | 'hang' = 'good';
const open = new Set<ServerResponse>();

/** A body of `bytes` spaces followed by `{}`: valid JSON, just too long. */
const padded = (bytes: number) => `${' '.repeat(bytes)}{}`;

beforeAll(async () => {
  issuer = await createTokenIssuer('https://idp.example.com', { kid: 'k1' });
  ca = await createCa({ trustDomain: 'example.org' });
  server = createServer((req, res) => {
    const json = { 'content-type': 'application/json' };
    const path = req.url === '/switch' ? { good: '/doc', huge: '/huge-chunked', hang: '/hang' }[mode] : req.url;
    switch (path) {
      case '/doc':
        res.writeHead(200, json).end(JSON.stringify(doc));
        return;
      case '/huge-declared':
        res.writeHead(200, json).end(padded(MAX_DOCUMENT_BYTES + 1));
        return;
      case '/huge-chunked': {
        // No content-length: the bound must hold while reading.
        res.writeHead(200, json);
        const chunk = ' '.repeat(64 * 1024);
        for (let i = 0; i < 20; i++) res.write(chunk);
        res.end('{}');
        return;
      }
      case '/hang':
        open.add(res); // never answers
        return;
      case '/trickle': {
        open.add(res);
        res.writeHead(200, json);
        const t = setInterval(() => res.write(' '), 20);
        res.on('close', () => clearInterval(t));
        return;
      }
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of open) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('fetchDocument: every endpoint answer is bounded', () => {
  it('reads a document within the bound', async () => {
    doc = { keys: [] };
    expect(await fetchDocument(`${base}/doc`, 'the test endpoint')).toEqual({
      ok: true,
      status: 200,
      text: '{"keys":[]}',
    });
    expect(await fetchDocument(`${base}/missing`, 'the test endpoint')).toEqual({ ok: false, status: 404, text: '' });
  });

  it('refuses a body over the bound, declared or not, naming the endpoint', async () => {
    await expect(fetchDocument(`${base}/huge-declared`, 'the test endpoint')).rejects.toThrow(
      `the test endpoint sent more than ${MAX_DOCUMENT_BYTES} bytes`,
    );
    await expect(fetchDocument(`${base}/huge-chunked`, 'the test endpoint')).rejects.toThrow(
      `the test endpoint sent more than ${MAX_DOCUMENT_BYTES} bytes`,
    );
    // The bound is the caller's to set: the same chunked body fits a larger one.
    const big = await fetchDocument(`${base}/huge-chunked`, 'the test endpoint', { maxBytes: 2 * MAX_DOCUMENT_BYTES });
    expect(big.text.trim()).toBe('{}');
  });

  it('gives up on an endpoint that never answers, or that trickles its body, within the timeout', async () => {
    for (const path of ['/hang', '/trickle']) {
      await expect(fetchDocument(`${base}${path}`, 'the test endpoint', { timeoutMs: 300 })).rejects.toThrow(
        'the test endpoint did not answer within 300 ms',
      );
    }
  });
});

describe('the JWKS endpoint', () => {
  it('an oversized or silent answer is reported and the last good keys keep verifying', async () => {
    doc = issuer.jwks;
    mode = 'good';
    let clock = 0;
    const errors: Error[] = [];
    const jwks = new RemoteJwks(`${base}/switch`, {
      cooldownMs: 0,
      maxAgeMs: 1000,
      timeoutMs: 300,
      clock: () => clock,
      onError: (e) => errors.push(e),
    });
    const token = await issuer.sign({ sub: 'a' });
    const verify = () => jwtVerify(token, (h, t) => jwks.resolve(h, t), { currentDate: new Date(BASE_TIME) });
    expect((await verify()).payload.sub).toBe('a');
    for (const bad of ['huge', 'hang'] as const) {
      mode = bad;
      clock += 10_000; // the set is stale: the next verification refetches, and the fetch fails
      expect((await verify()).payload.sub).toBe('a');
    }
    expect(errors.map((e) => e.message)).toEqual([
      `the JWKS endpoint ${base} sent more than ${MAX_DOCUMENT_BYTES} bytes`,
      `the JWKS endpoint ${base} did not answer within 300 ms`,
    ]);
    mode = 'good';
  });
});

describe('a SPIFFE bundle endpoint', () => {
  it('an oversized answer at start leaves the domain untrusted and says why', async () => {
    const errors: string[] = [];
    const loader = await TrustBundleLoader.open([{ trustDomain: 'example.org', endpoint: `${base}/huge-declared` }], {
      resolvePath: (p) => p,
      watch: false,
      onError: (e, td) => errors.push(`${td}: ${e.message}`),
    });
    try {
      // Untrusted: no authority of the domain, so no certificate or token of it verifies.
      expect(loader.set.get('example.org')?.x509Authorities ?? []).toEqual([]);
      expect(loader.set.get('example.org')?.jwtAuthorities.size ?? 0).toBe(0);
      expect(errors).toEqual([
        `example.org: the example.org bundle endpoint ${base} sent more than ${MAX_DOCUMENT_BYTES} bytes`,
      ]);
    } finally {
      loader.close();
    }
  });

  it('a good document is read; an oversized refresh later keeps it serving', async () => {
    doc = await spiffeBundle([ca]);
    mode = 'good';
    const errors: string[] = [];
    const loader = await TrustBundleLoader.open([{ trustDomain: 'example.org', endpoint: `${base}/switch` }], {
      resolvePath: (p) => p,
      watch: false,
      onError: (e) => errors.push(e.message),
    });
    try {
      const roots = () => loader.set.get('example.org')?.x509Authorities.map((c) => c.fingerprint);
      expect(roots()).toEqual([ca.fingerprint]);
      mode = 'huge';
      await loader.refreshEndpoints();
      expect(roots()).toEqual([ca.fingerprint]);
      expect(errors).toEqual([`the example.org bundle endpoint ${base} sent more than ${MAX_DOCUMENT_BYTES} bytes`]);
    } finally {
      mode = 'good';
      loader.close();
    }
  });
});
