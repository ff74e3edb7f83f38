import type { ServerHttp2Stream } from 'node:http2';
import type { FollowedStream } from './connection-guard.js';
import { GrpcStatus } from './grpc-framing.js';
import {
  decodeHealthRequest,
  encodeHealthResponse,
  HEALTH_SERVICES,
  type HealthState,
  ServingStatus,
} from './health.js';
import { endStream, openStream, readUnary, sendFailure, sendStreamed, sendUnary } from './http2-calls.js';

/**
 * grpc.health.v1.Health (Check and Watch) for the node:http2 transport: the same answers as the grpc-js handlers
 * in health.ts, over the same {@link HealthState} and codec. Watch streams follow the state until the drain ends
 * them with OK (`close()`), or the client goes away.
 */

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
export const HEALTH_WATCH_PATH = '/grpc.health.v1.Health/Watch';

/** Health requests are a service name: a small bound keeps a health probe from buffering megabytes. */
const MAX_HEALTH_REQUEST_BYTES = 4096;

export class Http2Health {
  private readonly watches = new Set<ServerHttp2Stream>();

  constructor(private readonly state: HealthState) {}

  check(stream: ServerHttp2Stream, followed: FollowedStream | null = null): void {
    readUnary(stream, MAX_HEALTH_REQUEST_BYTES, followed, (bytes) => {
      const request = decodeHealthRequest(bytes);
      if (request.malformed) {
        sendFailure(stream, { code: GrpcStatus.INVALID_ARGUMENT, message: 'malformed HealthCheckRequest' });
      } else if (!HEALTH_SERVICES.includes(request.service)) {
        sendFailure(stream, { code: GrpcStatus.NOT_FOUND, message: `unknown service '${request.service}'` });
      } else sendUnary(stream, encodeHealthResponse({ status: ServingStatus[this.state.current] }));
    });
  }

  watch(stream: ServerHttp2Stream, followed: FollowedStream | null = null): void {
    readUnary(stream, MAX_HEALTH_REQUEST_BYTES, followed, (bytes) => {
      const request = decodeHealthRequest(bytes);
      if (request.malformed) {
        sendFailure(stream, { code: GrpcStatus.INVALID_ARGUMENT, message: 'malformed HealthCheckRequest' });
        return;
      }
      if (stream.destroyed) return;
      // Per the health protocol, an unknown service is reported as SERVICE_UNKNOWN on the stream, not an error.
      const known = HEALTH_SERVICES.includes(request.service);
      openStream(stream);
      sendStreamed(
        stream,
        encodeHealthResponse({ status: known ? ServingStatus[this.state.current] : ServingStatus.SERVICE_UNKNOWN }),
      );
      this.watches.add(stream);
      const unsubscribe = known
        ? this.state.subscribe((status) =>
            sendStreamed(stream, encodeHealthResponse({ status: ServingStatus[status] })),
          )
        : () => {};
      stream.once('close', () => {
        unsubscribe();
        this.watches.delete(stream);
      });
    });
  }

  /** Ends every open Watch with OK (a drain is then not held open by them). */
  close(): void {
    for (const stream of this.watches) endStream(stream);
    this.watches.clear();
  }

  get openWatches(): number {
    return this.watches.size;
  }
}
