import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFixture } from '../../bench/fixtures.js';
import { checkRequestBody, grpcFrame, readGrpcFrames } from '../../bench/frame.js';
import { h2loadArgs, parseH2loadLog } from '../../bench/h2load.js';
import { patchCounter, responseCode, splitFramed } from '../../bench/loadgen.js';
import { toCheckInput } from '../../src/authz/input.js';
import type { WireCheckRequest } from '../../src/authz/wire-types.js';
import { CheckRequestType, encodeCheckResponse } from '../../src/server/codec.js';

/**
 * Timing-free correctness of the benchmark harness: what it sends must be exactly the Check it means to send, and
 * what it reads back must be read right. (The benchmark itself runs with `npm run bench`, never in `npm test`.)
 */

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const sample: WireCheckRequest = {
  attributes: {
    contextExtensions: { namespace: 'shop', app: 'orders' },
    request: { http: { method: 'GET', path: '/api/x', host: 'orders', headers: { 'x-a': 'b' } } },
  },
};

describe('bench harness', () => {
  it('frames a CheckRequest as one uncompressed gRPC message that decodes back to the same request', () => {
    const body = checkRequestBody(sample);
    expect(body[0]).toBe(0);
    expect(body.readUInt32BE(1)).toBe(body.byteLength - 5);
    const [message] = readGrpcFrames(body);
    const decoded = CheckRequestType.decode(message!) as unknown as WireCheckRequest;
    expect(decoded.attributes?.request?.http?.path).toBe('/api/x');
    expect(decoded.attributes?.contextExtensions).toEqual({ namespace: 'shop', app: 'orders' });
  });

  it('splits concatenated frames and rejects truncated ones', () => {
    const a = grpcFrame(Buffer.from([1, 2, 3]));
    const b = grpcFrame(Buffer.alloc(0));
    expect(splitFramed(Buffer.concat([a, b]))).toEqual([a, b]);
    expect(() => splitFramed(a.subarray(0, 6))).toThrow();
    expect(() => readGrpcFrames(a.subarray(0, 4))).toThrow(/truncated/);
  });

  it('reads the CheckResponse status code straight from the bytes', () => {
    const ok = grpcFrame(encodeCheckResponse({ status: { code: 0 }, okResponse: { headers: [] } }));
    const denied = grpcFrame(
      encodeCheckResponse({ status: { code: 7, message: 'no' }, deniedResponse: { status: { code: 403 } } }),
    );
    expect(responseCode(ok)).toBe(0);
    expect(responseCode(denied)).toBe(7);
  });

  it('parses h2load log lines, keeping only measured successes', () => {
    const log = '100\t200\t50\n200\t200\t70\n300\t503\t10\n\n';
    expect(parseH2loadLog(log, 150)).toEqual({ ok: [70], failed: 1 });
    const args = h2loadArgs({ port: 1, bodyFile: 'b', streams: 4, warmupS: 1, durationS: 5, logFile: 'l' });
    expect(args).toContain('content-type: application/grpc');
    expect(args.at(-1)).toBe('http://127.0.0.1:1/envoy.service.auth.v3.Authorization/Check');
  });

  it('generates the load: 10 rules per workload, and fresh templates that patch into valid, distinct requests', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-fixture-'));
    dirs.push(dir);
    const fixture = await generateFixture(dir, {
      namespaces: 2,
      appsPerNamespace: 2,
      callers: 2,
      users: 3,
      hotRequests: 20,
      denyShare: 0.3,
    });
    expect(fixture.summary).toMatchObject({ workloads: 4, rules: 40, policies: 8 });
    expect(await readFile(join(fixture.policyDir, 'ns-000.yaml'), 'utf8')).toContain('kind: AuthorizationPolicy');
    expect(fixture.hot).toHaveLength(20);
    const template = fixture.fresh[0]!;
    expect(template.offsets.length).toBe(2);
    const paths = [1, 2].map((n) => {
      const [message] = readGrpcFrames(patchCounter(template.body, template.offsets, n));
      const input = toCheckInput(CheckRequestType.decode(message!) as unknown as WireCheckRequest);
      expect(input.headers[':path']).toBe(input.rawPath);
      expect(input.source.certificate).toContain('BEGIN%20CERTIFICATE');
      return input.rawPath;
    });
    expect(paths[0]).toMatch(/item-0000000001$/);
    expect(paths[0]).not.toBe(paths[1]);
  });
});

describe('bench /metrics scrape', () => {
  it('sums the check-duration histogram over labels and finds the bucket holding the p99', async () => {
    const { parseServerSide } = await import('../../bench/metrics-scrape.js');
    const text = [
      '# HELP mesh_authz_check_duration_seconds x',
      'mesh_authz_check_duration_seconds_bucket{result="allow",le="0.00005"} 90',
      'mesh_authz_check_duration_seconds_bucket{result="allow",le="0.0001"} 99',
      'mesh_authz_check_duration_seconds_bucket{result="allow",le="+Inf"} 100',
      'mesh_authz_check_duration_seconds_count{result="allow"} 100',
      'mesh_authz_check_duration_seconds_bucket{result="deny",le="0.00005"} 0',
      'mesh_authz_check_duration_seconds_bucket{result="deny",le="0.0001"} 0',
      'mesh_authz_check_duration_seconds_bucket{result="deny",le="+Inf"} 0',
      'mesh_authz_check_duration_seconds_count{result="deny"} 0',
      'mesh_authz_decision_cache_hits_total 80',
      'mesh_authz_decision_cache_misses_total 20',
    ].join('\n');
    const s = parseServerSide(text);
    expect(s).toMatchObject({ checks: 100, p99AtMostUs: 100, cacheHits: 80, cacheMisses: 20 });
    expect(s.shareAtMost['0.00005']).toBeCloseTo(0.9);
  });
});
