import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireCheckResponse } from '../../src/authz/wire-types.js';
import { authorizationServiceDefinition } from '../../src/server/server.js';
import type { AuthzService } from '../../src/server/service.js';
import { type Clients, connect, httpCheck, startService } from '../support/harness.js';

/**
 * Attack / bad-input suite: whatever a caller sends, the answer is a deny with a reason (or, for a message over
 * the size limit, a gRPC error that Envoy turns into a deny), the server never crashes and never allows.
 */

const RawClient = grpc.makeGenericClientConstructor(
  { Check: { ...authorizationServiceDefinition.Check, requestSerialize: (b: Buffer) => b } },
  'Authorization',
);

describe('bad input is denied with a reason, never a crash', () => {
  let service: AuthzService;
  let target: string;
  let client: Clients;
  let raw: grpc.Client & { Check(b: Buffer, cb: (e: grpc.ServiceError | null, r?: WireCheckResponse) => void): void };

  const sendRaw = (bytes: Buffer) =>
    new Promise<WireCheckResponse>((resolve, reject) => raw.Check(bytes, (e, r) => (e ? reject(e) : resolve(r!))));
  const reasonOf = (res: WireCheckResponse) =>
    res.deniedResponse?.headers?.find((h) => h.header.key === 'x-mesh-authz-reason')?.header.value ?? '';

  beforeAll(async () => {
    // response.detail: full, so each deny's reason can be checked here (the default sends only its class).
    const started = await startService({ server: { maxMessageBytes: 1 << 20 }, response: { detail: 'full' } });
    service = started.service;
    target = started.addresses.grpc;
    client = connect(target);
    raw = new RawClient(target, grpc.credentials.createInsecure()) as unknown as typeof raw;
  });
  afterAll(async () => {
    client.close();
    raw.close();
    await service.shutdown('test');
  });

  it('truncated protobuf bytes: denied, reason names the malformed message', async () => {
    // Field 1 (attributes), wire type 2, claims 127 bytes but carries 1: the reader refuses it.
    const res = await sendRaw(Buffer.from([0x0a, 0x7f, 0x01]));
    expect(res.status.code).toBe(7);
    expect(reasonOf(res)).toMatch(/malformed CheckRequest/);
  });

  it('wrong wire type for a known field: denied', async () => {
    // Field 1 as a 64-bit fixed value instead of a message.
    const res = await sendRaw(Buffer.from([0x09, 1, 2, 3, 4, 5, 6, 7, 8]));
    expect(res.status.code).toBe(7);
    expect(res.deniedResponse?.status.code).toBe(403);
  });

  it('a path that is not UTF-8 (proto3 strings must be): denied, never read with replacement characters', async () => {
    // CheckRequest{attributes{request{http{method "GET", path "/admin" + 0xff}}}}: a lossy read would give
    // "/admin\uFFFD" and let the request be judged on text it did not carry.
    const http = Buffer.from([0x12, 0x03, ...Buffer.from('GET'), 0x22, 0x07, ...Buffer.from('/admin'), 0xff]);
    const request = Buffer.from([0x12, http.length, ...http]);
    const attributes = Buffer.from([0x22, request.length, ...request]);
    const res = await sendRaw(Buffer.from([0x0a, attributes.length, ...attributes]));
    expect(res.status.code).toBe(7);
    expect(reasonOf(res)).toMatch(/not UTF-8/);
  });

  it('an empty CheckRequest (no attributes): denied, not allowed (an empty response would allow)', async () => {
    const res = await sendRaw(Buffer.alloc(0));
    expect(res.status.code).toBe(7);
    expect(reasonOf(res)).toMatch(/no attributes\.request\.http/);
  });

  it('missing method or path: denied with the missing attribute named', async () => {
    const noPath = httpCheck('/allowed/x');
    noPath.attributes!.request!.http!.path = '';
    expect(reasonOf(await client.check(noPath))).toMatch(/no HTTP path/);
    const noMethod = httpCheck('/allowed/x');
    noMethod.attributes!.request!.http!.method = '';
    expect(reasonOf(await client.check(noMethod))).toMatch(/no HTTP method/);
  });

  it('huge path: denied (the allowed prefix does not help)', async () => {
    const res = await client.check(httpCheck(`/allowed/${'a'.repeat(20_000)}`));
    expect(res.status.code).toBe(7);
    expect(reasonOf(res)).toMatch(/path is longer than/);
  });

  it('huge headers and too many headers: denied', async () => {
    const big = await client.check(httpCheck('/allowed/x', { headers: { 'x-big': 'b'.repeat(70_000) } }));
    expect(reasonOf(big)).toMatch(/headers exceed/);
    const many: Record<string, string> = {};
    for (let i = 0; i < 300; i++) many[`x-h${i}`] = 'v';
    expect(reasonOf(await client.check(httpCheck('/allowed/x', { headers: many })))).toMatch(/more than 200 headers/);
  });

  it('a message over the size limit is refused at the gRPC layer (Envoy denies on error)', async () => {
    await expect(
      client.check(httpCheck('/allowed/x', { headers: { 'x-big': 'b'.repeat(2 << 20) } })),
    ).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
    });
  });

  it('after all of the above the server still answers correctly', async () => {
    const res = await client.check(httpCheck('/allowed/x'));
    expect(res.status?.code ?? 0).toBe(0);
  });
});
