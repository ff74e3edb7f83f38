/**
 * The gRPC-over-HTTP/2 wire rules the lean transport (http2-transport.ts) needs, written from the protocol
 * description (grpc/grpc, doc/PROTOCOL-HTTP2.md): the 5-byte length prefix of each message, the `grpc-timeout`
 * header, and the percent-encoding of `grpc-message`. Pure functions and one small per-stream reader; no I/O.
 */

/** The gRPC status codes this transport sends (grpc/grpc, doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** A failed call: the status and message to send in the trailers. */
export interface GrpcFailure {
  readonly code: number;
  readonly message: string;
}

/** Frames one message: flag 0 (not compressed), 4-byte big-endian length, then the bytes. */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * `grpc-timeout` → milliseconds, or null when absent or malformed (the spec: at most 8 ASCII digits, then one unit
 * of H M S m u n). A malformed value is ignored rather than refused, as grpc-js and C-core servers do; the pipeline
 * then applies its own `server.checkTimeoutMs`.
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | null {
  if (typeof value !== 'string') return null;
  const n = value.length;
  if (n < 2 || n > 9) return null;
  const unit = TIMEOUT_UNIT_MS[value[n - 1]!];
  if (unit === undefined) return null;
  let amount = 0;
  for (let i = 0; i < n - 1; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    amount = amount * 10 + d;
  }
  return amount * unit;
}

/**
 * Percent-encodes a `grpc-message` value: bytes outside printable ASCII (0x20–0x7E) and '%' itself become %XX of
 * their UTF-8 bytes, so any text (a reason with non-ASCII, a newline) survives as a valid HTTP/2 header value.
 */
export function encodeGrpcMessage(text: string): string {
  let plain = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}

/**
 * Reads the single request message of a unary call from the stream's DATA chunks, however they are split (a
 * prefix over two frames, a body over many). The usual case, one chunk holding exactly one whole message, hands
 * back a view of that chunk: no copy. Errors follow the spec: a compressed message (flag 1) is refused, since
 * this server only speaks identity; a second message on a unary call, or none at all, is a protocol error.
 */
export class UnaryMessageReader {
  /** Bytes of the current message (prefix included) gathered so far; null until a second chunk is needed. */
  private parts: Buffer[] | null = null;
  private have = 0;
  /** Total bytes of the message, prefix included (-1 until the prefix is read). */
  private need = -1;
  private message: Buffer | null = null;
  /** Set once the call has failed; further data is ignored. */
  failure: GrpcFailure | null = null;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes held of a message not yet complete (prefix included): what the connection guard counts. */
  get heldBytes(): number {
    return this.message !== null || this.failure !== null ? 0 : this.have;
  }

  /** Takes one DATA chunk. Returns a failure the first time the input becomes invalid, else null. */
  push(chunk: Buffer): GrpcFailure | null {
    if (this.failure !== null) return null;
    if (this.message !== null) return this.fail(GrpcStatus.UNIMPLEMENTED, 'a second request message on a unary call');
    if (this.have === 0 && this.parts === null) {
      // Fast path: the first chunk holds the whole message, and nothing else.
      if (chunk.length >= 5) {
        const bad = this.readPrefix(chunk);
        if (bad !== null) return bad;
        if (chunk.length === this.need) {
          this.message = chunk.subarray(5);
          return null;
        }
      }
      this.parts = [];
    }
    let at = 0;
    while (at < chunk.length) {
      if (this.message !== null) return this.fail(GrpcStatus.UNIMPLEMENTED, 'a second request message on a unary call');
      const wanted = this.need < 0 ? 5 - this.have : this.need - this.have;
      const take = Math.min(wanted, chunk.length - at);
      this.parts!.push(at === 0 && take === chunk.length ? chunk : chunk.subarray(at, at + take));
      this.have += take;
      at += take;
      if (this.need < 0 && this.have === 5) {
        const bad = this.readPrefix(Buffer.concat(this.parts!, 5));
        if (bad !== null) return bad;
      }
      if (this.need >= 0 && this.have === this.need) {
        this.message = Buffer.concat(this.parts!, this.need).subarray(5);
        this.parts = null;
      }
    }
    return null;
  }

  /** The request half has ended: the message, or the failure (no message, or one cut short). */
  end(): Buffer | GrpcFailure {
    if (this.failure !== null) return this.failure;
    if (this.message !== null) return this.message;
    return this.fail(
      GrpcStatus.INTERNAL,
      this.have === 0 ? 'no request message on a unary call' : 'the request message ended before its announced length',
    );
  }

  private readPrefix(bytes: Buffer): GrpcFailure | null {
    const flag = bytes[0]!;
    const length = bytes.readUInt32BE(1);
    if (flag === 1) {
      return this.fail(
        GrpcStatus.INTERNAL,
        'compressed message received but this server only accepts identity encoding',
      );
    }
    if (flag !== 0) return this.fail(GrpcStatus.INTERNAL, `invalid message flag ${flag}`);
    if (length > this.maxMessageBytes) {
      return this.fail(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `received message larger than max (${length} vs. ${this.maxMessageBytes})`,
      );
    }
    this.need = 5 + length;
    return null;
  }

  private fail(code: number, message: string): GrpcFailure {
    this.failure = { code, message };
    this.parts = null;
    return this.failure;
  }
}
