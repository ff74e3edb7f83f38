import * as grpc from '@grpc/grpc-js';
import type { CheckOutcome } from '../authz/outcome.js';
import type { CheckPipeline } from '../authz/pipeline.js';
import { type ResponseDetail, ResponseEncoder } from '../authz/response.js';
import type { MalformedRequest, WireCheckRequest, WireCheckResponse } from '../authz/wire-types.js';
import { isPromise } from '../identity/types.js';
import type { DecodeLimits } from './check-decoder.js';
import { CheckRequestType, CheckResponseType, decodeCheckRequest, encodeCheckResponse } from './codec.js';
import { type BufferLimits, ConnectionGuard, guardGrpcServer } from './connection-guard.js';
import { createHealthHandlers, type HealthState, healthServiceDefinition } from './health.js';
import type { AuthzTransport } from './transport.js';

/**
 * The gRPC adapter: envoy.service.auth.v3.Authorization/Check and grpc.health.v1.Health on one grpc-js server.
 * Messages go through codec.ts's protobufjs types with custom (de)serializers, so a malformed CheckRequest reaches
 * the pipeline as a {@link MalformedRequest} (a deny with a reason) instead of a gRPC error that Envoy would hand
 * to its failure mode.
 */

export const CHECK_METHOD_PATH = '/envoy.service.auth.v3.Authorization/Check';

function encodeRequest(req: WireCheckRequest | MalformedRequest): Buffer {
  const bytes = CheckRequestType.encode(req as unknown as Parameters<typeof CheckRequestType.encode>[0]).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeResponse(bytes: Buffer): WireCheckResponse {
  return CheckResponseType.decode(bytes) as unknown as WireCheckResponse;
}

/** The Authorization service definition (the client half is used by tests and tools). */
export const authorizationServiceDefinition = {
  Check: {
    path: CHECK_METHOD_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeRequest,
    requestDeserialize: (bytes: Buffer) => decodeCheckRequest(bytes),
    // The handler hands over finished bytes (ResponseEncoder); clients built from this definition never serialize
    // responses.
    responseSerialize: (bytes: Buffer) => bytes,
    responseDeserialize: decodeResponse,
  },
} satisfies grpc.ServiceDefinition;

/** Answer used only if the pipeline itself broke its never-reject promise: deny, never allow. */
export const LAST_RESORT_DENY = encodeCheckResponse({
  status: { code: 14, message: 'internal error' },
  deniedResponse: {
    status: { code: 403 },
    headers: [{ header: { key: 'x-mesh-authz-reason', value: 'unavailable' }, append: { value: false } }],
    body: 'Forbidden: unavailable\n',
  },
});

/** Margin kept from the caller's deadline so our deny reaches Envoy before Envoy gives up on us. */
export const DEADLINE_MARGIN_MS = 5;

export interface AuthzServerOptions {
  readonly pipeline: CheckPipeline;
  readonly health: HealthState;
  readonly maxMessageBytes: number;
  /** Header, path and label limits judged on the bytes, before the message is decoded into objects. */
  readonly decodeLimits?: DecodeLimits;
  /** Per-connection and total caps on buffered unfinished messages, and their timeout. */
  readonly bufferLimits?: BufferLimits;
  /** HTTP/2 and keepalive settings of each connection. */
  readonly connection?: ConnectionSettings;
  /** How much of a deny's reason the caller sees (default `minimal`). */
  readonly responseDetail?: ResponseDetail;
}

export interface ConnectionSettings {
  readonly maxConcurrentStreams: number;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly maxSessionMemoryMb: number;
}

export const DEFAULT_CONNECTION: ConnectionSettings = {
  maxConcurrentStreams: 256,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  maxSessionMemoryMb: 32,
};

/** The grpc-js transport: a built (not yet bound) grpc-js server behind the {@link AuthzTransport} face. */
export interface AuthzServer extends AuthzTransport {
  readonly grpc: grpc.Server;
}

export function createAuthzServer(options: AuthzServerOptions): AuthzServer {
  const conn = options.connection ?? DEFAULT_CONNECTION;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
    // One connection may not open more streams than this at once (SETTINGS_MAX_CONCURRENT_STREAMS).
    'grpc.max_concurrent_streams': conn.maxConcurrentStreams,
    // nghttp2's own per-session memory bound (grpc-js otherwise sets it to "unlimited").
    'grpc-node.max_session_memory': conn.maxSessionMemoryMb,
    // Envoy holds long-lived HTTP/2 connections and answers PINGs; keepalive finds dead peers without closing
    // idle ones (no max_connection_idle/age: Envoy reconnecting would cost it a handshake on the Check path).
    'grpc.keepalive_time_ms': conn.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': conn.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    // Channelz stays on (the default) although no channelz service is exposed and its per-call bookkeeping is
    // 3–5% of the server's CPU under load: with 'grpc.enable_channelz': 0, grpc-js 1.14's forceShutdown left
    // in-flight calls open past server.drainTimeoutMs (test/e2e/server.test.ts caught it).
  });
  let inFlight = 0;
  const encoder = new ResponseEncoder(encodeCheckResponse, options.responseDetail ?? 'minimal');

  /** The response bytes of a decided check; a deny should encoding ever fail. */
  const encode = (outcome: CheckOutcome): Buffer => {
    try {
      return encoder.encode(outcome);
    } catch {
      return LAST_RESORT_DENY;
    }
  };
  const reply = (callback: grpc.sendUnaryData<Buffer>, bytes: Buffer): void => {
    inFlight--;
    callback(null, bytes);
  };

  const check: grpc.handleUnaryCall<WireCheckRequest | MalformedRequest, Buffer> = (call, callback) => {
    inFlight++;
    let result: CheckOutcome | Promise<CheckOutcome>;
    try {
      result = options.pipeline.check(call.request, toDeadlineMs(call.getDeadline()));
    } catch {
      reply(callback, LAST_RESORT_DENY);
      return;
    }
    // Usually decided synchronously (cached identities), and answered in the same tick.
    if (isPromise(result)) {
      result.then(
        (r) => reply(callback, encode(r)),
        () => reply(callback, LAST_RESORT_DENY),
      );
    } else reply(callback, encode(result));
  };

  const guard = options.bufferLimits ? new ConnectionGuard(options.bufferLimits) : null;
  if (guard) guardGrpcServer(server, guard);
  const health = createHealthHandlers(options.health);
  const limits = options.decodeLimits;
  const definition = limits
    ? {
        ...authorizationServiceDefinition,
        Check: {
          ...authorizationServiceDefinition.Check,
          requestDeserialize: (bytes: Buffer) => decodeCheckRequest(bytes, limits),
        },
      }
    : authorizationServiceDefinition;
  server.addService(definition, { Check: check });
  server.addService(healthServiceDefinition, health.handlers);
  return {
    grpc: server,
    guard,
    inFlight: () => inFlight,
    closeWatches: () => health.close(),
    bind: (listen, credentials) =>
      new Promise((resolve, reject) =>
        server.bindAsync(listen, credentials, (err, port) => (err ? reject(err) : resolve(port))),
      ),
    tryShutdown: (done) => server.tryShutdown(() => done()),
    forceShutdown: () => server.forceShutdown(),
  };
}

function toDeadlineMs(deadline: grpc.Deadline): number | undefined {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(ms)) return undefined;
  return ms - DEADLINE_MARGIN_MS;
}
