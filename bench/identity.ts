/**
 * The identity phase's cost: first sight versus cached, per peer certificate and per end-user token, printed beside
 * the floor measured in the same run (a Map lookup of a precomputed fingerprint: what any cache must at least pay;
 * and SHA-256 of the certificate as Envoy sends it + that lookup: what our cache key costs).
 *
 *   npm run build && node dist/bench/identity.js        (alone)
 *   npm run bench                                      (bench/run.ts calls runIdentityBench())
 */

import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { configSchema } from '../src/config/schema.js';
import type { IdentityInput } from '../src/identity/index.js';
import { createIdentityVerifier, type ManagedIdentityVerifier } from '../src/sources/identity.js';
import { createCa, createSvid, createTokenIssuer, envoyEncode } from '../test/support/pki.js';

const PEERS = 200;
const TOKENS = 200;
const IDP = 'https://idp.bench.local';
const JWKS = 'https://idp.bench.local/jwks';

interface Figure {
  readonly nsPerOp: number;
  readonly opsPerSec: number;
  readonly vsFloor: number;
}

function time(ops: number, run: () => void): number {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / ops;
}

async function timeAsync(ops: number, run: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / ops;
}

/** Best of `rounds` (the least disturbed by GC and the scheduler). */
async function best(rounds: number, once: () => number | Promise<number>): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < rounds; i++) min = Math.min(min, await once());
  return min;
}

export async function runIdentityBench(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'identity-bench-'));
  try {
    const root = await createCa({ trustDomain: 'cluster.local' });
    const mid = await createCa({ trustDomain: 'cluster.local', issuer: root });
    await writeFile(join(dir, 'root.pem'), root.pem + mid.pem);
    const now = Date.now();
    const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 86_400_000) };
    const direct: string[] = [];
    const viaMid: string[] = [];
    for (let i = 0; i < PEERS; i++) {
      direct.push(
        envoyEncode((await createSvid(root, `spiffe://cluster.local/ns/ns${i % 20}/sa/sa${i}`, validity)).pem),
      );
      viaMid.push(envoyEncode((await createSvid(mid, `spiffe://cluster.local/ns/ns${i % 20}/sa/m${i}`, validity)).pem));
    }
    const idp = await createTokenIssuer(IDP, { kid: 'k1' });
    const tokens: string[] = [];
    for (let i = 0; i < TOKENS; i++) {
      tokens.push(
        await idp.sign({ sub: `user${i}`, aud: 'bench', groups: ['g1', `g${i % 7}`] }, { now, ttlSeconds: 3600 }),
      );
    }
    const fetchJwks = (async () => new Response(JSON.stringify(idp.jwks), { status: 200 })) as unknown as typeof fetch;
    const config = configSchema.parse({
      identity: {
        trustBundles: [{ trustDomain: 'cluster.local', pem: 'root.pem' }],
        jwt: { issuers: [{ issuer: IDP, jwks: { url: JWKS }, audiences: ['bench'], algorithms: ['ES256'] }] },
      },
    }).identity;
    const open: ManagedIdentityVerifier[] = [];
    const fresh = async () => {
      const v = await createIdentityVerifier(config, {
        resolvePath: (p) => join(dir, p),
        fetch: fetchJwks,
        watch: false,
      });
      open.push(v);
      // Warm the JWKS (a network fetch is not identity work): one token through, then a new cache for the rest.
      await v.verify(input({ authorization: `Bearer ${tokens[0]}` }, ''));
      return v;
    };
    const input = (headers: Record<string, string>, certificate: string): IdentityInput => ({
      certificate,
      principal: '',
      headers,
      filterMetadata: {},
      now,
    });
    const certInputs = direct.map((c) => input({}, c));
    const midInputs = viaMid.map((c) => input({}, c));
    const tokenInputs = tokens.map((t) => input({ authorization: `Bearer ${t}` }, ''));
    const bothInputs = direct.map((c, i) => input({ authorization: `Bearer ${tokens[i % TOKENS]}` }, c));
    const rounds = 5;
    const repeat = 50;

    // Floors.
    const fingerprints = direct.map((c) => createHash('sha256').update(c).digest('base64url'));
    const map = new Map(fingerprints.map((f, i) => [f, i]));
    const byString = new Map(direct.map((c, i) => [c, i]));
    let sink = 0;
    const floorLookup = await best(rounds, () =>
      time(PEERS * repeat, () => {
        for (let r = 0; r < repeat; r++) for (const f of fingerprints) sink += map.get(f) ?? 0;
      }),
    );
    const floorHash = await best(rounds, () =>
      time(PEERS * repeat, () => {
        for (let r = 0; r < repeat; r++) {
          for (const c of direct) sink += map.get(createHash('sha256').update(c).digest('base64url')) ?? 0;
        }
      }),
    );
    // A request's certificate is a new string each time (decoded from the wire): its hash is not cached by V8.
    const freshCopies = () => direct.map((c) => Buffer.from(c).toString());
    const floorString = await best(rounds, () => {
      const copies = Array.from({ length: repeat }, freshCopies);
      return time(PEERS * repeat, () => {
        for (const round of copies) for (const c of round) sink += byString.get(c) ?? 0;
      });
    });

    // Certificates: first sight (fresh verifier, every peer new) vs cached (same verifier, every peer seen).
    const certFirst = await best(rounds, async () => {
      const v = await fresh();
      return time(PEERS, () => {
        for (const i of certInputs) sink += v.verify(i) ? 1 : 0;
      });
    });
    const certFirstMid = await best(rounds, async () => {
      const v = await fresh();
      return time(PEERS, () => {
        for (const i of midInputs) sink += v.verify(i) ? 1 : 0;
      });
    });
    const warm = await fresh();
    for (const i of certInputs) warm.verify(i);
    for (const i of tokenInputs) await warm.verify(i);
    const certCached = await best(rounds, () => {
      const rounds = Array.from({ length: repeat }, () => freshCopies().map((c) => input({}, c)));
      return time(PEERS * repeat, () => {
        for (const round of rounds) for (const i of round) sink += warm.verify(i) ? 1 : 0;
      });
    });

    // Tokens: first sight (signature check by jose, async) vs cached (synchronous).
    const tokenFirst = await best(rounds, async () => {
      const v = await fresh();
      return timeAsync(TOKENS, async () => {
        for (const i of tokenInputs) sink += (await v.verify(i)).ok ? 1 : 0;
      });
    });
    const tokenCached = await best(rounds, () =>
      time(TOKENS * repeat, () => {
        for (let r = 0; r < repeat; r++) for (const i of tokenInputs) sink += warm.verify(i) ? 1 : 0;
      }),
    );
    const bothCached = await best(rounds, () =>
      time(PEERS * repeat, () => {
        for (let r = 0; r < repeat; r++) for (const i of bothInputs) sink += warm.verify(i) ? 1 : 0;
      }),
    );
    for (const v of open) v.close();
    if (sink === -1) process.stdout.write('');

    const fig = (ns: number): Figure => ({
      nsPerOp: Math.round(ns),
      opsPerSec: Math.round(1e9 / ns),
      vsFloor: Math.round((ns / floorLookup) * 10) / 10,
    });
    const results = {
      peers: PEERS,
      tokens: TOKENS,
      floor: { mapLookup: fig(floorLookup), sha256PlusLookup: fig(floorHash), freshStringLookup: fig(floorString) },
      certificate: {
        firstSight: fig(certFirst),
        firstSightWithIntermediate: fig(certFirstMid),
        cached: fig(certCached),
      },
      token: { firstSight: fig(tokenFirst), cached: fig(tokenCached) },
      certificateAndTokenCached: fig(bothCached),
    };
    const rows: [string, Figure][] = [
      ['floor: Map lookup of a fingerprint', results.floor.mapLookup],
      ['floor: SHA-256 of the cert + lookup', results.floor.sha256PlusLookup],
      ['floor: lookup of a fresh cert string', results.floor.freshStringLookup],
      ['cert, first sight (leaf → root)', results.certificate.firstSight],
      ['cert, first sight (leaf → mid → root)', results.certificate.firstSightWithIntermediate],
      ['cert, cached', results.certificate.cached],
      ['JWT, first sight', results.token.firstSight],
      ['JWT, cached', results.token.cached],
      ['cert + JWT, both cached', results.certificateAndTokenCached],
    ];
    process.stdout.write(
      `${'identity phase'.padEnd(42)}${'ns/op'.padStart(12)}${'ops/s'.padStart(12)}${'× floor'.padStart(10)}\n`,
    );
    for (const [name, f] of rows) {
      process.stdout.write(
        `${name.padEnd(42)}${String(f.nsPerOp).padStart(12)}${String(f.opsPerSec).padStart(12)}${String(f.vsFloor).padStart(10)}\n`,
      );
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runIdentityBench().then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
