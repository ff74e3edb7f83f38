import http2, { type ServerHttp2Stream } from 'node:http2';
import { encodeCheckResponse, grpcFrame } from './frame.js';

/**
 * The raw floor: node:http2 with no gRPC library at all, answering every stream with one pre-framed OK
 * CheckResponse and `grpc-status: 0`, without reading what was sent. No framing checks, no decode, no limits: the
 * most any Node gRPC server can do on this machine, so the lean transport (server.transport: http2) is measured
 * against the ceiling as well as against the grpc-js floor. Started by floor-server.ts with mode `raw`.
 */

const OK_FRAME = grpcFrame(encodeCheckResponse({ status: { code: 0 }, okResponse: { headers: [] } }));
const HEADERS = { ':status': 200, 'content-type': 'application/grpc' } as const;
const TRAILERS = { 'grpc-status': '0' } as const;
const RESPOND = { waitForTrailers: true } as const;

function sendTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers(TRAILERS);
}

export function startRawFloor(port = 0): Promise<{ server: http2.Http2Server; port: number }> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.resume();
    stream.once('end', () => {
      if (stream.destroyed) return;
      stream.respond(HEADERS, RESPOND);
      stream.once('wantTrailers', sendTrailers);
      stream.end(OK_FRAME);
    });
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : 0 });
    });
  });
}
