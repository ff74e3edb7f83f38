import type * as grpc from '@grpc/grpc-js';
import type { ConnectionGuard } from './connection-guard.js';

/**
 * What the service lifecycle (service.ts) needs from a transport: bind, count checks in flight, end Health Watch
 * streams, drain, close. Two transports implement it over the same pipeline, ResponseEncoder, health state, limits
 * and TLS credentials: grpc-js (server.ts, the default) and the lean node:http2 one (http2-transport.ts), chosen
 * by `server.transport`.
 */
export interface AuthzTransport {
  /** The buffered-bytes guard (null when no buffer limits were given). */
  readonly guard: ConnectionGuard | null;
  /** Checks received and not yet answered. */
  inFlight(): number;
  /** Ends Health Watch streams (they would otherwise hold a graceful shutdown open). */
  closeWatches(): void;
  /**
   * Listens on `host:port` with these credentials (insecure, or {@link ReloadingServerCredentials} for TLS/mTLS);
   * resolves with the bound port. Rejects with the socket error (EADDRINUSE…), which service.ts words.
   */
  bind(listen: string, credentials: grpc.ServerCredentials): Promise<number>;
  /** Stops accepting, sends GOAWAY, lets open calls finish; `done` once every connection is closed. */
  tryShutdown(done: () => void): void;
  /** Closes every connection now (calls still open get an RPC error, never an allow). */
  forceShutdown(): void;
}
