import http2, { type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRequestBody, GRPC_CHECK_PATH, grpcFrame, readGrpcFrames } from '../../bench/frame.js';
import type { WireCheckResponse } from '../../src/authz/wire-types.js';
import { CheckResponseType, HealthCheckRequestType } from '../../src/server/codec.js';
import type { AuthzService } from '../../src/server/service.js';
import { connect, httpCheck, startService, TRANSPORTS } from '../support/harness.js';
import { slowIdentity } from '../support/slow-identity.js';

/**
 * The gRPC wire rules, driven with a raw node:http2 client against both transports (grpc/grpc,
 * doc/PROTOCOL-HTTP2.md): messages split over DATA frames, a second message on a unary call, compressed messages
 * and encodings, the size limit, content-type, `te`, unknown methods, `grpc-timeout`, percent-encoded
 * `grpc-message`, and GOAWAY on drain with the call in flight finishing. Where grpc-js answers differently (it
 * inflates gzip), the case runs on the http2 transport only and says so.
 */

interface RawAnswer {
  readonly httpStatus: number;
  readonly grpcStatus: string;
  readonly grpcMessage: string;
  readonly body: Buffer;
  readonly headers: Record<string, unknown>;
}

const GRPC_HEADERS = { ':method': 'POST', 'content-type': 'application/grpc', te: 'trailers' };
const pause = () => new Promise((r) => setTimeout(r, 15));

/** One call; `chunks` are written one by one with a pause between (so each goes out as its own DATA frame). */
async function rawCall(
  session: ClientHttp2Session,
  headers: OutgoingHttpHeaders,
  chunks: Buffer[],
): Promise<RawAnswer> {
  const stream = session.request({ ...GRPC_HEADERS, ...headers }, { endStream: false });
  const parts: Buffer[] = [];
  let head: Record<string, unknown> = {};
  let trailers: Record<string, unknown> = {};
  stream.on('response', (h) => {
    head = h as Record<string, unknown>;
  });
  stream.on('trailers', (t) => {
    trailers = t as Record<string, unknown>;
  });
  stream.on('data', (c: Buffer) => parts.push(c));
  stream.on('error', () => {});
  const closed = new Promise<void>((resolve) => stream.on('close', () => resolve()));
  for (const chunk of chunks) {
    if (stream.closed) break;
    await new Promise<void>((resolve) => stream.write(chunk, () => resolve()));
    await pause();
  }
  if (!stream.closed) stream.end();
  await closed;
  const pick = (name: string) => String(trailers[name] ?? head[name] ?? '');
  return {
    httpStatus: Number(head[':status'] ?? 0),
    grpcStatus: pick('grpc-status'),
    grpcMessage: pick('grpc-message'),
    body: Buffer.concat(parts),
    headers: { ...head, ...trailers },
  };
}

function decoded(answer: RawAnswer): WireCheckResponse {
  const frames = readGrpcFrames(answer.body);
  expect(frames).toHaveLength(1);
  return CheckResponseType.decode(frames[0]!) as unknown as WireCheckResponse;
}

const allowed = checkRequestBody(httpCheck('/allowed/x'));

describe.each(TRANSPORTS)('transport %s on the wire', (transport) => {
  let service: AuthzService;
  let target: string;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    const s = await startService({ server: { transport, maxMessageBytes: 4096 } }, { identity: slowIdentity });
    service = s.service;
    target = s.addresses.grpc;
    session = http2.connect(`http://${target}`);
    session.on('error', () => {});
  });
  afterAll(async () => {
    session.destroy();
    await service.shutdown('test');
  });

  it('reassembles a message whose prefix and body are split over several DATA frames', async () => {
    const chunks = [allowed.subarray(0, 2), allowed.subarray(2, 5), allowed.subarray(5, 40), allowed.subarray(40)];
    const answer = await rawCall(session, { ':path': GRPC_CHECK_PATH }, chunks);
    expect(answer.grpcStatus).toBe('0');
    expect(decoded(answer).status?.code ?? 0).toBe(0);
  });

  it('answers without `te: trailers` (as grpc-js and C-core servers do)', async () => {
    const answer = await rawCall(session, { ':path': GRPC_CHECK_PATH, te: undefined }, [allowed]);
    expect(answer.grpcStatus).toBe('0');
    expect(decoded(answer).status?.code ?? 0).toBe(0);
  });

  it('refuses a second message on a unary call with UNIMPLEMENTED, deciding nothing', async () => {
    const answer = await rawCall(session, { ':path': GRPC_CHECK_PATH }, [allowed, allowed]);
    expect(answer.grpcStatus).toBe('12');
    expect(answer.body.length).toBe(0);
  });

  it('refuses a message over maxMessageBytes with RESOURCE_EXHAUSTED; the limit itself passes', async () => {
    const over = grpcFrame(Buffer.alloc(4097));
    const answer = await rawCall(session, { ':path': GRPC_CHECK_PATH }, [over]);
    expect(answer.grpcStatus).toBe('8');
    // 4096 bytes of zeros is not a valid CheckRequest: it is decided (a deny), not refused by size.
    const atLimit = await rawCall(session, { ':path': GRPC_CHECK_PATH }, [grpcFrame(Buffer.alloc(4096))]);
    expect(atLimit.grpcStatus).toBe('0');
    expect(decoded(atLimit).status.code).not.toBe(0);
  });

  it('answers a non-gRPC content-type with HTTP 415', async () => {
    const answer = await rawCall(session, { ':path': GRPC_CHECK_PATH, 'content-type': 'application/json' }, [
      Buffer.from('{}'),
    ]);
    expect(answer.httpStatus).toBe(415);
  });

  it('answers an unknown method with UNIMPLEMENTED', async () => {
    const answer = await rawCall(session, { ':path': '/envoy.service.auth.v2.Authorization/Check' }, [allowed]);
    expect(answer.grpcStatus).toBe('12');
  });

  it('percent-encodes grpc-message (a health check for a non-ASCII service name)', async () => {
    const request = grpcFrame(HealthCheckRequestType.encode({ service: 'nöpe 100%' }).finish());
    const answer = await rawCall(session, { ':path': '/grpc.health.v1.Health/Check' }, [request]);
    expect(answer.grpcStatus).toBe('5');
    // grpc-js also encodes spaces; both decode to the same text.
    expect(answer.grpcMessage).toContain('n%C3%B6pe');
    expect(answer.grpcMessage).toContain('100%25');
    expect(decodeURIComponent(answer.grpcMessage)).toBe("unknown service 'nöpe 100%'");
  });

  it('honours grpc-timeout: a check still deciding at the deadline is denied UNAVAILABLE, never allowed', async () => {
    const slow = checkRequestBody(httpCheck('/allowed/x', { headers: { 'x-test-delay-ms': '5000' } }));
    const answer = await rawCall(session, { ':path': GRPC_CHECK_PATH, 'grpc-timeout': '300m' }, [slow]);
    // The pipeline answers 5 ms before the deadline; grpc-js may still get there first with DEADLINE_EXCEEDED.
    if (answer.grpcStatus === '4') return;
    expect(answer.grpcStatus).toBe('0');
    const res = decoded(answer);
    expect(res.status.code).toBe(14);
    expect(res.deniedResponse?.status.code).toBe(403);
  });

  it('a huge grpc-timeout (8 digits of hours, the most the spec allows) is a long deadline, not an instant deny', async () => {
    // 99999999H is past what a Node timer can hold (2^31-1 ms); unclamped, Node fires such a timer after 1 ms and
    // every check still verifying an identity was denied 'deadline' at once.
    const slow = checkRequestBody(httpCheck('/allowed/x', { headers: { 'x-test-delay-ms': '50' } }));
    const answer = await rawCall(session, { ':path': GRPC_CHECK_PATH, 'grpc-timeout': '99999999H' }, [slow]);
    expect(answer.grpcStatus).toBe('0');
    expect(decoded(answer).status.code).toBe(0);
  });

  it('a malformed grpc-timeout is never an allow: http2 decides with the default budget, grpc-js may refuse the call', async () => {
    for (const value of ['', 'abc', '-1S', '1x', '123456789S', '10']) {
      const denied = await rawCall(session, { ':path': GRPC_CHECK_PATH, 'grpc-timeout': value }, [
        checkRequestBody(httpCheck('/secret')),
      ]);
      // grpc-js answers INTERNAL to the forms its parser refuses; Envoy then denies (failure_mode_allow is off).
      if (transport === 'grpc-js' && denied.grpcStatus === '13') continue;
      expect(denied.grpcStatus, value).toBe('0');
      expect(decoded(denied).status.code, value).toBe(7);
      // The other side: the same header on an allowed request is decided, not refused (http2 reads it as absent).
      if (transport === 'http2') {
        const allowed = await rawCall(session, { ':path': GRPC_CHECK_PATH, 'grpc-timeout': value }, [
          checkRequestBody(httpCheck('/allowed/x')),
        ]);
        expect(decoded(allowed).status.code, value).toBe(0);
      }
    }
  });

  it('the grpc-js client gets the deadline deny (or its own DEADLINE_EXCEEDED), never an allow', async () => {
    const client = connect(target);
    try {
      const slow = httpCheck('/allowed/x', { headers: { 'x-test-delay-ms': '5000' } });
      const outcome = await client.check(slow, 300).then(
        (r) => r.status.code,
        (e: { code: number }) => `rpc ${e.code}`,
      );
      expect([14, 'rpc 4']).toContain(outcome);
    } finally {
      client.close();
    }
  });
});

describe.each(TRANSPORTS)('transport %s: drain', (transport) => {
  it('sends GOAWAY on shutdown; the call in flight finishes with its decision; then the connection closes', async () => {
    const { service, addresses } = await startService(
      { server: { transport, drainTimeoutMs: 10_000 } },
      { identity: slowIdentity },
    );
    const session = http2.connect(`http://${addresses.grpc}`);
    session.on('error', () => {});
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code) => resolve(code)));
    const sessionClosed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    const slow = checkRequestBody(httpCheck('/allowed/x', { headers: { 'x-test-delay-ms': '600' } }));
    const call = rawCall(session, { ':path': GRPC_CHECK_PATH, 'grpc-timeout': '10S' }, [slow]);
    while (service.inFlight() < 1) await new Promise((r) => setTimeout(r, 10));
    const stopped = service.shutdown('test');
    expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
    const answer = await call;
    expect(answer.grpcStatus).toBe('0');
    expect(decoded(answer).status?.code ?? 0).toBe(0);
    await stopped;
    await sessionClosed;
  });
});

describe.each(TRANSPORTS)('transport %s: keepalive', (transport) => {
  it('PINGs an open connection every keepaliveTimeMs (and keeps it open while the peer answers)', async () => {
    const { service, addresses } = await startService({ server: { transport, keepaliveTimeMs: 100 } });
    const session = http2.connect(`http://${addresses.grpc}`);
    session.on('error', () => {});
    try {
      let pings = 0;
      await new Promise<void>((resolve) =>
        session.on('ping', () => {
          if (++pings === 3) resolve();
        }),
      );
      expect(session.closed || session.destroyed).toBe(false);
      const answer = await rawCall(session, { ':path': GRPC_CHECK_PATH }, [allowed]);
      expect(answer.grpcStatus).toBe('0');
    } finally {
      session.destroy();
      await service.shutdown('test');
    }
  });
});

describe('transport http2: what only it refuses (grpc-js inflates gzip and deflate)', () => {
  let service: AuthzService;
  let session: ClientHttp2Session;

  beforeAll(async () => {
    const s = await startService({ server: { transport: 'http2' } });
    service = s.service;
    session = http2.connect(`http://${s.addresses.grpc}`);
    session.on('error', () => {});
  });
  afterAll(async () => {
    session.destroy();
    await service.shutdown('test');
  });

  it('refuses a compressed message (flag 1) with INTERNAL, deciding nothing', async () => {
    const compressed = Buffer.from(allowed);
    compressed[0] = 1;
    const answer = await rawCall(session, { ':path': GRPC_CHECK_PATH }, [compressed]);
    expect(answer.grpcStatus).toBe('13');
    expect(answer.grpcMessage).toContain('identity');
    expect(answer.body.length).toBe(0);
  });

  it('refuses grpc-encoding other than identity with UNIMPLEMENTED and says what it accepts', async () => {
    const answer = await rawCall(session, { ':path': GRPC_CHECK_PATH, 'grpc-encoding': 'gzip' }, [allowed]);
    expect(answer.grpcStatus).toBe('12');
    expect(answer.headers['grpc-accept-encoding']).toBe('identity');
    // identity spelled out is fine.
    const ok = await rawCall(session, { ':path': GRPC_CHECK_PATH, 'grpc-encoding': 'identity' }, [allowed]);
    expect(ok.grpcStatus).toBe('0');
  });

  it('fails a unary call that ends without a message with INTERNAL', async () => {
    const answer = await rawCall(session, { ':path': GRPC_CHECK_PATH }, []);
    expect(answer.grpcStatus).toBe('13');
  });
});
