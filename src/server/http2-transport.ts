import http2, {
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type SecureServerOptions,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type * as grpc from '@grpc/grpc-js';
import type { CheckOutcome } from '../authz/outcome.js';
import { ResponseEncoder } from '../authz/response.js';
import { isPromise } from '../identity/types.js';
import { decodeCheckRequest, encodeCheckResponse } from './codec.js';
import { ConnectionGuard, type FollowedStream } from './connection-guard.js';
import { GrpcStatus, parseGrpcTimeout } from './grpc-framing.js';
import { acceptCall, ignoreError, readUnary, sendFailure, sendUnary } from './http2-calls.js';
import { HEALTH_CHECK_PATH, HEALTH_WATCH_PATH, Http2Health } from './http2-health.js';
import { watchKeepalive } from './http2-keepalive.js';
import {
  type AuthzServerOptions,
  CHECK_METHOD_PATH,
  DEADLINE_MARGIN_MS,
  DEFAULT_CONNECTION,
  LAST_RESORT_DENY,
} from './server.js';
import type { AuthzTransport } from './transport.js';

/**
 * The lean transport (`server.transport: http2`): unary gRPC straight on node:http2, without grpc-js's call
 * objects, interceptors, metadata maps and per-call timers. It serves exactly three methods (Authorization/Check,
 * Health/Check, Health/Watch) with the same pipeline, ResponseEncoder, health state, connection guard, decode
 * limits and TLS credentials as the grpc-js server (server.ts). On the Check path a call costs: one reader object,
 * two stream listeners, the decode, the pipeline, and one framed response buffer.
 */

/** HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE: node's default, written down (gRPC metadata from Envoy is small). */
const MAX_HEADER_LIST_BYTES = 65_535;

export function createHttp2Transport(options: AuthzServerOptions): AuthzTransport {
  const conn = options.connection ?? DEFAULT_CONNECTION;
  const maxMessageBytes = options.maxMessageBytes;
  const limits = options.decodeLimits;
  const encoder = new ResponseEncoder(encodeCheckResponse, options.responseDetail ?? 'minimal');
  const health = new Http2Health(options.health);
  const guard = options.bufferLimits ? new ConnectionGuard(options.bufferLimits) : null;
  const sessions = new Set<Http2Session>();
  let server: Http2Server | Http2SecureServer | null = null;
  let inFlight = 0;
  let draining = false;

  const encode = (outcome: CheckOutcome): Buffer => {
    try {
      return encoder.encode(outcome);
    } catch {
      return LAST_RESORT_DENY;
    }
  };

  const check = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, followed: FollowedStream | null): void => {
    const timeoutMs = parseGrpcTimeout(headers['grpc-timeout']);
    // The deadline starts when the call arrives, not when its last byte does.
    const deadline = timeoutMs === null ? undefined : Date.now() + timeoutMs - DEADLINE_MARGIN_MS;
    readUnary(stream, maxMessageBytes, followed, (bytes) => {
      inFlight++;
      let result: CheckOutcome | Promise<CheckOutcome>;
      try {
        result = options.pipeline.check(decodeCheckRequest(bytes, limits), deadline);
      } catch {
        inFlight--;
        sendUnary(stream, LAST_RESORT_DENY);
        return;
      }
      // Usually decided synchronously (cached identities), and answered in the same tick.
      if (isPromise(result)) {
        result.then(
          (r) => {
            inFlight--;
            sendUnary(stream, encode(r));
          },
          () => {
            inFlight--;
            sendUnary(stream, LAST_RESORT_DENY);
          },
        );
      } else {
        inFlight--;
        sendUnary(stream, encode(result));
      }
    });
  };

  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    stream.on('error', ignoreError);
    // Every stream is on the guard's clock, whatever its method: one that is refused below but never ends its
    // request half is reset when the clock runs out.
    const followed = guard === null ? null : guard.follow(stream);
    if (!acceptCall(stream, headers)) return;
    const path = headers[':path'];
    if (path === CHECK_METHOD_PATH) check(stream, headers, followed);
    else if (path === HEALTH_CHECK_PATH) health.check(stream, followed);
    else if (path === HEALTH_WATCH_PATH) health.watch(stream, followed);
    else {
      stream.resume();
      sendFailure(stream, {
        code: GrpcStatus.UNIMPLEMENTED,
        message: `the server does not implement the method ${String(path)}`,
      });
    }
  };

  const onSession = (session: Http2Session): void => {
    session.on('error', ignoreError);
    if (draining) {
      session.close();
      return;
    }
    sessions.add(session);
    const stopKeepalive = watchKeepalive(session, conn.keepaliveTimeMs, conn.keepaliveTimeoutMs);
    session.once('close', () => {
      stopKeepalive();
      sessions.delete(session);
    });
  };

  const build = (credentials: grpc.ServerCredentials): Http2Server | Http2SecureServer => {
    const common = {
      maxSessionMemory: conn.maxSessionMemoryMb,
      settings: { maxConcurrentStreams: conn.maxConcurrentStreams, maxHeaderListSize: MAX_HEADER_LIST_BYTES },
    };
    if (!credentials._isSecure()) return http2.createServer(common);
    // The same credentials object grpc-js would use (tls.ts): its constructor options (ALPN h2, TLS ≥ 1.2, client
    // certificates, handshake timeout), its current context, and its watcher for rotated files.
    const secure = http2.createSecureServer({
      ...common,
      ...(credentials._getConstructorOptions() as SecureServerOptions),
      ...(credentials._getSecureContextOptions() as SecureContextOptions),
      allowHTTP1: false,
    });
    const onRotate = (context: SecureContextOptions | null) => {
      if (context) secure.setSecureContext(context);
    };
    credentials._addWatcher(onRotate);
    secure.once('close', () => credentials._removeWatcher(onRotate));
    // A client that does not negotiate h2 is not a gRPC client: drop it now, not after node's 10 s default.
    secure.on('unknownProtocol', (socket: Socket) => socket.destroy());
    secure.on('secureConnection', (socket: Socket) => socket.on('error', ignoreError));
    return secure;
  };

  return {
    guard,
    inFlight: () => inFlight,
    closeWatches: () => health.close(),
    bind(listen, credentials) {
      const h2 = build(credentials);
      // This transport reads the framing itself and reports to the guard (follow), so the guard adds no listeners.
      if (guard) guard.attach(h2, false);
      h2.on('stream', onStream);
      h2.on('session', onSession);
      server = h2;
      const i = listen.lastIndexOf(':');
      const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
      return new Promise((resolve, reject) => {
        h2.once('error', reject);
        h2.listen({ host, port: Number(listen.slice(i + 1)) }, () => {
          h2.off('error', reject);
          h2.on('error', ignoreError);
          const address = h2.address();
          resolve(typeof address === 'object' && address ? address.port : 0);
        });
      });
    },
    tryShutdown(done) {
      draining = true;
      if (!server?.listening) {
        done();
        return;
      }
      server.close(() => done());
      // GOAWAY on every connection: no new streams; those already open finish, then the connection closes.
      for (const session of sessions) session.close();
    },
    forceShutdown() {
      draining = true;
      for (const session of sessions) session.destroy();
      sessions.clear();
      if (server?.listening) server.close();
    },
  };
}
