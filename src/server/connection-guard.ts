import { constants, type Http2SecureServer, type Http2Server, type Http2Session, type Http2Stream } from 'node:http2';

/**
 * Bounded memory under hostile clients. grpc-js buffers a request message until its last byte arrives; a client
 * that opens many streams, announces a large message on each and sends most of it (never the end) makes the
 * server hold all of it: 700 such streams took the process from 145 MB to 812 MB, past the pod's memory limit, and
 * an OOM-killed authz service makes Envoy deny every request of the mesh. grpc-js has no cap on the bytes held for
 * unfinished messages, so this guard watches the node:http2 streams beside it:
 * - it follows the gRPC framing (5-byte prefix: flag + length) to know how many bytes of each stream belong to a
 *   message not yet complete, per connection and in total;
 * - past the per-connection or the total cap it resets the stream holding the most such bytes (a real
 *   CheckRequest is a few KB, so the resets land on the streams that built the pile, not on normal callers);
 * - a stream whose message is not complete `messageTimeoutMs` after it opened (or after its previous message) is
 *   reset, so a slow sender cannot hold its bytes forever.
 * - a connection that has not sent the HTTP/2 client preface (its first SETTINGS frame) `prefaceTimeoutMs` after
 *   the session opened is closed: without it, a plaintext client that connects and says nothing holds a socket
 *   forever (Node has no such timeout; TLS connections get one for the handshake, not for what follows).
 * The stream limit per connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS) and the TLS handshake timeout are
 * set where the sockets are created (server.ts, tls.ts).
 */

export interface BufferLimits {
  readonly maxBufferedBytesPerConnection: number;
  readonly maxBufferedBytes: number;
  readonly messageTimeoutMs: number;
  /** Close a connection whose HTTP/2 preface has not arrived this long after the session opened. */
  readonly prefaceTimeoutMs?: number;
}

/** Why a stream was reset (counted; tests and metrics read them). */
export interface GuardCounters {
  resetForConnectionCap: number;
  resetForTotalCap: number;
  resetForTimeout: number;
  /** Connections closed because their HTTP/2 preface never came. */
  closedForSilence: number;
}

interface Tracked {
  readonly stream: Http2Stream;
  readonly session: SessionState;
  /** Bytes of the message in progress (prefix included) not yet complete. */
  pending: number;
  /** Prefix bytes still to read (5 at a message boundary; 0 while reading a body). */
  prefixLeft: number;
  prefix: Buffer;
  bodyLeft: number;
  timer: NodeJS.Timeout | null;
  done: boolean;
}

interface SessionState {
  pending: number;
  readonly streams: Set<Tracked>;
}

export class ConnectionGuard {
  readonly counters: GuardCounters = {
    resetForConnectionCap: 0,
    resetForTotalCap: 0,
    resetForTimeout: 0,
    closedForSilence: 0,
  };
  private total = 0;
  private readonly sessions = new WeakMap<Http2Session, SessionState>();
  private readonly all = new Set<Tracked>();

  constructor(private readonly limits: BufferLimits) {}

  /** Bytes of unfinished messages held now, all connections together. */
  get bufferedBytes(): number {
    return this.total;
  }

  /** Streams open now whose request is not finished (or not yet answered by grpc-js). */
  get openStreams(): number {
    return this.all.size;
  }

  /** Watches every stream of `server`; called before grpc-js sees the stream. */
  attach(server: Http2Server | Http2SecureServer): void {
    server.prependListener('stream', (stream: Http2Stream) => this.track(stream));
    const prefaceMs = this.limits.prefaceTimeoutMs;
    if (prefaceMs !== undefined) server.on('session', (session: Http2Session) => this.awaitPreface(session, prefaceMs));
  }

  /** The client's SETTINGS frame ends the preface; until then the session holds a socket for nothing. */
  private awaitPreface(session: Http2Session, timeoutMs: number): void {
    const timer = setTimeout(() => {
      this.counters.closedForSilence++;
      session.destroy();
    }, timeoutMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    session.once('remoteSettings', clear);
    session.once('close', clear);
  }

  private track(stream: Http2Stream): void {
    const h2session = stream.session;
    if (!h2session) return;
    let session = this.sessions.get(h2session);
    if (!session) {
      session = { pending: 0, streams: new Set() };
      this.sessions.set(h2session, session);
    }
    const t: Tracked = {
      stream,
      session,
      pending: 0,
      prefixLeft: 5,
      prefix: Buffer.alloc(5),
      bodyLeft: 0,
      timer: null,
      done: false,
    };
    session.streams.add(t);
    this.all.add(t);
    this.arm(t);
    stream.on('data', (chunk: Buffer) => this.onData(t, chunk));
    // The request half is over: nothing more can be buffered for this stream.
    stream.once('end', () => this.finishMessage(t, false));
    stream.once('close', () => this.release(t));
  }

  private arm(t: Tracked): void {
    if (t.timer !== null || t.done) return;
    t.timer = setTimeout(() => {
      t.timer = null;
      this.counters.resetForTimeout++;
      this.reset(t);
    }, this.limits.messageTimeoutMs);
    t.timer.unref();
  }

  private onData(t: Tracked, chunk: Buffer): void {
    if (t.done) return;
    let at = 0;
    while (at < chunk.length) {
      if (t.prefixLeft > 0) {
        const n = Math.min(t.prefixLeft, chunk.length - at);
        chunk.copy(t.prefix, 5 - t.prefixLeft, at, at + n);
        t.prefixLeft -= n;
        at += n;
        this.add(t, n);
        this.arm(t);
        if (t.prefixLeft === 0) {
          t.bodyLeft = t.prefix.readUInt32BE(1);
          if (t.bodyLeft === 0) this.finishMessage(t, true);
        }
      } else {
        const n = Math.min(t.bodyLeft, chunk.length - at);
        t.bodyLeft -= n;
        at += n;
        this.add(t, n);
        if (t.bodyLeft === 0) this.finishMessage(t, true);
      }
    }
    this.enforce(t);
  }

  private add(t: Tracked, n: number): void {
    t.pending += n;
    t.session.pending += n;
    this.total += n;
  }

  /** A message is complete (grpc-js hands it on and frees its buffer): its bytes no longer count. */
  private finishMessage(t: Tracked, another: boolean): void {
    this.total -= t.pending;
    t.session.pending -= t.pending;
    t.pending = 0;
    t.prefixLeft = 5;
    t.bodyLeft = 0;
    if (t.timer !== null) clearTimeout(t.timer);
    t.timer = null;
    // A further message on the same stream restarts the clock when its first byte arrives (arm in onData).
    if (!another) t.done = true;
  }

  private release(t: Tracked): void {
    this.finishMessage(t, false);
    t.session.streams.delete(t);
    this.all.delete(t);
  }

  private enforce(t: Tracked): void {
    while (t.session.pending > this.limits.maxBufferedBytesPerConnection) {
      const victim = largest(t.session.streams);
      if (!victim) break;
      this.counters.resetForConnectionCap++;
      this.reset(victim);
    }
    while (this.total > this.limits.maxBufferedBytes) {
      const victim = largest(this.all);
      if (!victim) break;
      this.counters.resetForTotalCap++;
      this.reset(victim);
    }
  }

  /** RST_STREAM (ENHANCE_YOUR_CALM) and forget its bytes at once; grpc-js drops the call on 'close'. */
  private reset(t: Tracked): void {
    this.release(t);
    if (!t.stream.destroyed) t.stream.close(constants.NGHTTP2_ENHANCE_YOUR_CALM);
  }
}

function largest(streams: Iterable<Tracked>): Tracked | null {
  let best: Tracked | null = null;
  for (const t of streams) if (t.pending > 0 && (best === null || t.pending > best.pending)) best = t;
  return best;
}

/**
 * Attaches `guard` to every node:http2 server grpc-js creates for `server` (one per bound address). grpc-js
 * exposes no hook for its sockets, so this wraps its (internal) `createHttp2Server` on the instance; if a grpc-js
 * upgrade removes that method the service refuses to start rather than run unguarded.
 */
export function guardGrpcServer(server: object, guard: ConnectionGuard): void {
  const target = server as { createHttp2Server?: (credentials: unknown) => Http2Server | Http2SecureServer };
  const original = target.createHttp2Server;
  if (typeof original !== 'function') {
    throw new Error('this grpc-js version has no createHttp2Server: the connection limits cannot be enforced');
  }
  target.createHttp2Server = (credentials: unknown) => {
    const h2 = original.call(server, credentials);
    guard.attach(h2);
    return h2;
  };
}
