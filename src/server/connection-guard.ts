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
 *   reset, so a slow sender cannot hold its bytes forever. One sweep timer per guard (every quarter of the timeout,
 *   at most a second) finds them, rather than a timer per stream: a stream is reset between `messageTimeoutMs` and
 *   that plus one sweep period after its clock started.
 * - a connection that has not sent the HTTP/2 client preface (its first SETTINGS frame) `prefaceTimeoutMs` after
 *   the session opened is closed: without it, a plaintext client that connects and says nothing holds a socket
 *   forever (Node has no such timeout; TLS connections get one for the handshake, not for what follows).
 * Two ways to follow the framing: for grpc-js (which reads it internally) the guard listens to each stream's DATA
 * itself ({@link ConnectionGuard.attach}); the lean transport, which reads the framing anyway, tells the guard how
 * many bytes its reader holds ({@link ConnectionGuard.follow}), so the bytes are parsed once and the guard adds no
 * listener but 'close'.
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

/**
 * One stream's books. For a stream the transport reads itself ({@link ConnectionGuard.follow}) this object is also
 * what the transport reports to: one object per stream, its methods shared on the prototype.
 */
class Tracked implements FollowedStream {
  /** Bytes of the message in progress (prefix included) not yet complete. */
  pending = 0;
  /** Prefix bytes still to read (5 at a message boundary; 0 while reading a body). Listening mode only. */
  prefixLeft = 5;
  bodyLeft = 0;
  /** When the message in progress must be complete (ms since epoch); 0 when no clock runs. */
  deadline = 0;
  done = false;

  constructor(
    private readonly guard: ConnectionGuard,
    readonly stream: Http2Stream,
    readonly session: SessionState,
    readonly prefix: Buffer | null,
  ) {}

  holding(bytes: number): void {
    this.guard.hold(this, bytes);
  }

  settled(): void {
    this.guard.finishMessage(this, false);
  }
}

/** A stream the transport reads itself: it reports what its reader holds (see {@link ConnectionGuard.follow}). */
export interface FollowedStream {
  /** The reader now holds `bytes` of a message not yet complete (0 once it is complete). */
  holding(bytes: number): void;
  /** The request half is over: nothing more can be buffered for this stream. */
  settled(): void;
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
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly limits: BufferLimits) {}

  /** Bytes of unfinished messages held now, all connections together. */
  get bufferedBytes(): number {
    return this.total;
  }

  /** Streams open now whose request is not finished (or not yet answered by grpc-js). */
  get openStreams(): number {
    return this.all.size;
  }

  /**
   * Watches `server`'s connections (the preface timeout) and, unless the transport follows the framing itself
   * (`listen: false`, see {@link follow}), every stream's DATA; called before grpc-js sees the stream.
   */
  attach(server: Http2Server | Http2SecureServer, listen = true): void {
    if (listen) server.prependListener('stream', (stream: Http2Stream) => this.track(stream));
    const prefaceMs = this.limits.prefaceTimeoutMs;
    if (prefaceMs !== undefined) server.on('session', (session: Http2Session) => this.awaitPreface(session, prefaceMs));
  }

  /**
   * Follows a stream whose framing the transport reads itself: the transport reports the bytes its reader holds
   * and when the request half ends; the guard keeps the per-connection and total books, the caps and the clock.
   */
  follow(stream: Http2Stream): FollowedStream | null {
    const t = this.open(stream, false);
    if (t === null) return null;
    stream.once('close', () => this.release(t));
    return t;
  }

  /** @internal A followed stream's reader holds `bytes` of an unfinished message now (see {@link Tracked}). */
  hold(t: Tracked, bytes: number): void {
    if (t.done) return;
    this.add(t, bytes - t.pending);
    if (bytes === 0) t.deadline = 0;
    this.enforce(t);
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

  private open(stream: Http2Stream, listening: boolean): Tracked | null {
    const h2session = stream.session;
    if (!h2session) return null;
    let session = this.sessions.get(h2session);
    if (!session) {
      session = { pending: 0, streams: new Set() };
      this.sessions.set(h2session, session);
    }
    const t = new Tracked(this, stream, session, listening ? Buffer.alloc(5) : null);
    session.streams.add(t);
    this.all.add(t);
    this.arm(t);
    return t;
  }

  private track(stream: Http2Stream): void {
    const t = this.open(stream, true);
    if (t === null) return;
    stream.on('data', (chunk: Buffer) => this.onData(t, chunk));
    // The request half is over: nothing more can be buffered for this stream.
    stream.once('end', () => this.finishMessage(t, false));
    stream.once('close', () => this.release(t));
  }

  /** Starts the stream's clock (if none runs): its message must be complete within messageTimeoutMs. */
  private arm(t: Tracked): void {
    if (t.deadline !== 0 || t.done) return;
    t.deadline = Date.now() + this.limits.messageTimeoutMs;
    if (this.sweeper === null) {
      const period = Math.max(5, Math.min(1000, Math.floor(this.limits.messageTimeoutMs / 4)));
      this.sweeper = setInterval(() => this.sweep(), period);
      this.sweeper.unref();
    }
  }

  /** Resets every stream past its deadline; stops when nothing is left to watch. */
  private sweep(): void {
    const now = Date.now();
    for (const t of this.all) {
      if (t.deadline !== 0 && t.deadline <= now) {
        this.counters.resetForTimeout++;
        this.reset(t);
      }
    }
    if (this.all.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  private onData(t: Tracked, chunk: Buffer): void {
    if (t.done) return;
    let at = 0;
    while (at < chunk.length) {
      if (t.prefixLeft > 0) {
        const n = Math.min(t.prefixLeft, chunk.length - at);
        chunk.copy(t.prefix!, 5 - t.prefixLeft, at, at + n);
        t.prefixLeft -= n;
        at += n;
        this.add(t, n);
        this.arm(t);
        if (t.prefixLeft === 0) {
          t.bodyLeft = t.prefix!.readUInt32BE(1);
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
  /** @internal */
  finishMessage(t: Tracked, another: boolean): void {
    this.total -= t.pending;
    t.session.pending -= t.pending;
    t.pending = 0;
    t.prefixLeft = 5;
    t.bodyLeft = 0;
    t.deadline = 0;
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
