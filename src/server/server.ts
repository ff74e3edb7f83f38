import * as grpc from '@grpc/grpc-js';
import type { CheckPipeline, CheckResult } from '../authz/pipeline.js';
import { ResponseEncoder } from '../authz/response.js';
import type { MalformedRequest, WireCheckRequest, WireCheckResponse } from '../authz/wire-types.js';
import { isPromise } from '../identity/types.js';
import { CheckRequestType, CheckResponseType, decodeCheckRequest, encodeCheckResponse } from './codec.js';
import { createHealthHandlers, type HealthState, healthServiceDefinition } from './health.js';

/**
 * The gRPC adapter: envoy.service.auth.v3.Authorization/Check and grpc.health.v1.Health on one grpc-js server.
 * Messages go through wire.ts's protobufjs types with custom (de)serializers, so a malformed CheckRequest reaches
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
const LAST_RESORT_DENY = encodeCheckResponse({
  status: { code: 14, message: 'internal error' },
  deniedResponse: {
    status: { code: 403 },
    headers: [{ header: { key: 'x-mesh-authz-reason', value: 'internal error' }, append: { value: false } }],
    body: 'Forbidden: internal error\n',
  },
});

/** Margin kept from the caller's deadline so our deny reaches Envoy before Envoy gives up on us. */
const DEADLINE_MARGIN_MS = 5;

export interface AuthzServerOptions {
  readonly pipeline: CheckPipeline;
  readonly health: HealthState;
  readonly maxMessageBytes: number;
}

/** A built (not yet bound) server and the counters the drain needs. */
export interface AuthzServer {
  readonly grpc: grpc.Server;
  /** Checks received and not yet answered. */
  inFlight(): number;
  /** Ends Health Watch streams (they would otherwise hold a graceful shutdown open). */
  closeWatches(): void;
}

export function createAuthzServer(options: AuthzServerOptions): AuthzServer {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
    // Envoy holds long-lived HTTP/2 connections; keepalive pings detect dead peers without killing idle ones.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
    // Channelz stays on (the default) although no channelz service is exposed and its per-call bookkeeping is
    // 3–5% of the server's CPU under load: with 'grpc.enable_channelz': 0, grpc-js 1.14's forceShutdown left
    // in-flight calls open past server.drainTimeoutMs (test/e2e/server.test.ts caught it).
  });
  let inFlight = 0;
  const encoder = new ResponseEncoder(encodeCheckResponse);

  /** The response bytes of a decided check; a deny should encoding ever fail. */
  const encode = (result: CheckResult): Buffer => {
    try {
      return encoder.encode(result.outcome);
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
    let result: CheckResult | Promise<CheckResult>;
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

  const health = createHealthHandlers(options.health);
  server.addService(authorizationServiceDefinition, { Check: check });
  server.addService(healthServiceDefinition, health.handlers);
  return { grpc: server, inFlight: () => inFlight, closeWatches: () => health.close() };
}

function toDeadlineMs(deadline: grpc.Deadline): number | undefined {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(ms)) return undefined;
  return ms - DEADLINE_MARGIN_MS;
}
