import type { Http2Session } from 'node:http2';

/**
 * HTTP/2 keepalive for the node:http2 transport, as grpc-js does it (`grpc.keepalive_time_ms` and
 * `grpc.keepalive_timeout_ms`): a PING every `intervalMs` on an open connection, and the connection closed when
 * one is not acknowledged within `timeoutMs`. It finds dead peers (a pulled cable leaves a socket open for hours)
 * without closing idle ones: Envoy answers PINGs, and a reconnect would cost it a TLS handshake on the Check path.
 * Returns the function that stops it (on the session's close).
 */
export function watchKeepalive(session: Http2Session, intervalMs: number, timeoutMs: number): () => void {
  let deadline: NodeJS.Timeout | null = null;
  const interval = setInterval(() => {
    if (deadline !== null || session.destroyed || session.closed) return;
    deadline = setTimeout(() => session.destroy(), timeoutMs);
    deadline.unref();
    const sent = session.ping((err) => {
      if (deadline !== null) clearTimeout(deadline);
      deadline = null;
      if (err && !session.destroyed) session.destroy();
    });
    // Too many PINGs already outstanding: not a dead peer, try again next time.
    if (!sent && deadline !== null) {
      clearTimeout(deadline);
      deadline = null;
    }
  }, intervalMs);
  interval.unref();
  return () => {
    clearInterval(interval);
    if (deadline !== null) clearTimeout(deadline);
  };
}
