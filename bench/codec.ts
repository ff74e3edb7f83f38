import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { toCheckInput } from '../src/authz/input.js';
import type { WireCheckRequest } from '../src/authz/wire-types.js';
import { readCheckRequest } from '../src/server/check-decoder.js';
import { CheckRequestType } from '../src/server/codec.js';
import { generateFixture } from './fixtures.js';
import { readGrpcFrames } from './frame.js';

/**
 * The Check path's CheckRequest reader (src/server/check-decoder.ts: one pass, only what the core reads, limits
 * judged while reading) against protobufjs decoding every field, which is what the server used before and what
 * tools still use. Both are followed by `toCheckInput`, the one function that reads the result. The benchmark
 * first checks that both give the same CheckInput for every request of the generated load (the property test
 * test/property/check-decoder.test.ts checks it on random requests), then times them; the floor is copying the
 * bytes.
 */

const LIMITS = { maxPathBytes: 8192, maxHeaderBytes: 65536, maxHeaders: 200, maxLabels: 64 };

/** Best (minimum) time per decode over several rounds: robust against a busy machine's interruptions. */
function timeIt(label: string, messages: readonly Buffer[], decode: (b: Buffer) => unknown, rounds: number) {
  for (let i = 0; i < 3; i++) for (const m of messages) decode(m);
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < rounds; i++) {
    const started = process.hrtime.bigint();
    for (const m of messages) decode(m);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / messages.length);
  }
  return { label, nsPerDecode: Math.round(best), decodesPerSecond: Math.round(1e9 / best) };
}

function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

export async function runCodecBench(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-authz-codec-'));
  try {
    const fixture = await generateFixture(dir, {
      namespaces: 10,
      appsPerNamespace: 10,
      callers: 10,
      users: 10,
      hotRequests: 500,
      denyShare: 0.3,
    });
    const messages = fixture.hot.map((b) => Buffer.from(readGrpcFrames(b)[0]!));
    const protobufjs = (b: Buffer) => CheckRequestType.decode(b) as unknown as WireCheckRequest;
    const reader = (b: Buffer) => readCheckRequest(b, LIMITS) as WireCheckRequest;
    let mismatches = 0;
    for (const m of messages) {
      if (
        !isDeepStrictEqual(
          plain(toCheckInput(protobufjs(m), undefined, 0)),
          plain(toCheckInput(reader(m), undefined, 0)),
        )
      ) {
        mismatches++;
      }
    }
    const rounds = 40;
    const rows = [
      timeIt('floor: Buffer.from copy', messages, (b) => Buffer.from(b), rounds),
      timeIt('protobufjs decode', messages, protobufjs, rounds),
      timeIt('check-decoder (Check path)', messages, reader, rounds),
      timeIt('protobufjs + toCheckInput', messages, (b) => toCheckInput(protobufjs(b)), rounds),
      timeIt('check-decoder + toCheckInput', messages, (b) => toCheckInput(reader(b)), rounds),
    ];
    const bytes = Math.round(messages.reduce((n, m) => n + m.byteLength, 0) / messages.length);
    for (const r of rows) {
      process.stdout.write(`${r.label.padEnd(30)} ${String(r.nsPerDecode).padStart(7)} ns/request\n`);
    }
    const speedup = rows[3]!.nsPerDecode / rows[4]!.nsPerDecode;
    process.stdout.write(
      `check-decoder vs protobufjs, with toCheckInput: ${speedup.toFixed(2)}× (avg ${bytes} bytes/request, ${mismatches} CheckInput mismatches)\n`,
    );
    return { averageBytes: bytes, mismatches, rows, speedup };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) await runCodecBench();
