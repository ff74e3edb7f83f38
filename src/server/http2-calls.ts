import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { FollowedStream } from './connection-guard.js';
import { encodeGrpcMessage, frameMessage, type GrpcFailure, GrpcStatus, UnaryMessageReader } from './grpc-framing.js';

/**
 * Answering gRPC calls on raw node:http2 streams: the response headers, one framed message, the `grpc-status`
 * trailers, and trailers-only failures. Header objects are built once and reused (node copies them when it
 * serializes), and the trailer callback is one shared function, so an OK answer allocates only its framed bytes.
 */

/** Response headers of a call that answers with messages. `identity` is the only encoding this server speaks. */
const RESPONSE_HEADERS = {
  ':status': 200,
  'content-type': 'application/grpc',
  'grpc-accept-encoding': 'identity',
} as const;
const OK_TRAILERS = { 'grpc-status': '0' } as const;
/** No `date` header: gRPC does not use it, and formatting it costs on every answer. */
const WITH_TRAILERS = { waitForTrailers: true, sendDate: false } as const;
const END_STREAM = { endStream: true, sendDate: false } as const;

function sendOkTrailers(this: ServerHttp2Stream): void {
  if (!this.destroyed) this.sendTrailers(OK_TRAILERS);
}

/** Swallows stream errors (a peer reset, a write after close): every one is followed by 'close', which is enough. */
export function ignoreError(): void {}

/** Whether the stream can still be answered (the peer may have cancelled, or the guard reset it). */
export function answerable(stream: ServerHttp2Stream): boolean {
  return !stream.destroyed && !stream.headersSent;
}

/** Answers a unary call: headers, the message, then `grpc-status: 0`. */
export function sendUnary(stream: ServerHttp2Stream, message: Uint8Array): void {
  if (!answerable(stream)) return;
  stream.respond(RESPONSE_HEADERS, WITH_TRAILERS);
  stream.once('wantTrailers', sendOkTrailers);
  stream.end(frameMessage(message));
}

/** Opens a server-streaming response (Health Watch): headers now, messages with {@link sendStreamed}. */
export function openStream(stream: ServerHttp2Stream): void {
  if (answerable(stream)) stream.respond(RESPONSE_HEADERS, WITH_TRAILERS);
}

export function sendStreamed(stream: ServerHttp2Stream, message: Uint8Array): void {
  if (!stream.destroyed && !stream.writableEnded) stream.write(frameMessage(message));
}

/** Ends a server-streaming response with `grpc-status: 0`. */
export function endStream(stream: ServerHttp2Stream): void {
  if (stream.destroyed || stream.writableEnded) return;
  stream.once('wantTrailers', sendOkTrailers);
  stream.end();
}

/**
 * Fails a call. Before any response headers this is a trailers-only response (one HEADERS frame carrying the
 * status, as the spec allows); after them, the status goes in the trailers.
 */
export function sendFailure(stream: ServerHttp2Stream, failure: GrpcFailure, extra?: Record<string, string>): void {
  if (stream.destroyed) return;
  const status = { 'grpc-status': String(failure.code), 'grpc-message': encodeGrpcMessage(failure.message), ...extra };
  if (!stream.headersSent) {
    stream.respond({ ...RESPONSE_HEADERS, ...status }, END_STREAM);
    return;
  }
  if (stream.writableEnded) return;
  stream.once('wantTrailers', () => {
    if (!stream.destroyed) stream.sendTrailers(status);
  });
  stream.end();
}

/**
 * Checks the request headers every call must carry: POST and a gRPC content-type (else HTTP 415, as the spec says,
 * so a plain HTTP client never reads a gRPC error as a success), and identity encoding. `te: trailers` is not
 * required: grpc-js and C-core servers accept calls without it, and so does this one. Returns false after
 * answering when the call cannot go on.
 */
export function acceptCall(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): boolean {
  const contentType = headers['content-type'];
  if (headers[':method'] !== 'POST' || typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
    stream.respond(
      {
        ':status': 415,
        'content-type': 'application/grpc',
        'grpc-status': String(GrpcStatus.INTERNAL),
        'grpc-message': encodeGrpcMessage(
          `invalid gRPC request: ${String(headers[':method'])} with content-type ${String(contentType)}`,
        ),
      },
      END_STREAM,
    );
    return false;
  }
  const encoding = headers['grpc-encoding'];
  if (encoding !== undefined && encoding !== 'identity') {
    sendFailure(
      stream,
      { code: GrpcStatus.UNIMPLEMENTED, message: `grpc-encoding ${String(encoding)} is not supported: send identity` },
      { 'grpc-accept-encoding': 'identity' },
    );
    return false;
  }
  return true;
}

/**
 * Reads the one request message of a unary call and hands it to `onMessage` once the request half has ended;
 * framing errors (compressed, oversize, a second message, none) fail the call with their status. `followed`
 * (the connection guard's books for this stream) is told what the reader holds after every chunk, so the framing
 * is parsed once, here.
 */
export function readUnary(
  stream: ServerHttp2Stream,
  maxMessageBytes: number,
  followed: FollowedStream | null,
  onMessage: (message: Buffer) => void,
): void {
  const reader = new UnaryMessageReader(maxMessageBytes);
  stream.on('data', (chunk: Buffer) => {
    const failure = reader.push(chunk);
    followed?.holding(reader.heldBytes);
    if (failure !== null) sendFailure(stream, failure);
  });
  stream.once('end', () => {
    followed?.settled();
    if (reader.failure !== null) return;
    const message = reader.end();
    if (Buffer.isBuffer(message)) onMessage(message);
    else sendFailure(stream, message as GrpcFailure);
  });
}
