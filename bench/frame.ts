import type protobuf from 'protobufjs';
import type { WireCheckRequest, WireCheckResponse } from '../src/authz/wire-types.js';
import { CheckRequestType, CheckResponseType } from '../src/server/codec.js';
import { frameMessage } from '../src/server/grpc-framing.js';

/**
 * gRPC message framing for pre-encoded request bodies (h2load sends raw HTTP/2 DATA, so the body must already be a
 * gRPC length-prefixed message): 1 byte compressed-flag (0), 4 bytes big-endian length, then the protobuf bytes.
 */

export const GRPC_CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

/** The server's own framing (src/server/grpc-framing.ts): bench and tests send what the server sends. */
export const grpcFrame = frameMessage;

/** Splits a buffer of concatenated gRPC frames back into messages (for checking the encoder and responses). */
export function readGrpcFrames(data: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let at = 0;
  while (at < data.byteLength) {
    if (data.byteLength - at < 5) throw new Error('truncated gRPC frame header');
    if (data[at] !== 0) throw new Error('compressed gRPC frames are not expected');
    const view = new DataView(data.buffer, data.byteOffset + at + 1, 4);
    const length = view.getUint32(0, false);
    if (data.byteLength - at - 5 < length) throw new Error('truncated gRPC frame body');
    frames.push(data.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return frames;
}

export function encodeCheckRequest(request: WireCheckRequest): Uint8Array {
  return CheckRequestType.encode(CheckRequestType.fromObject(request as Record<string, unknown>)).finish();
}

export function encodeCheckResponse(response: WireCheckResponse): Uint8Array {
  return CheckResponseType.encode(response as unknown as protobuf.Message).finish();
}

/** A framed CheckRequest, ready to be sent as an HTTP/2 request body. */
export function checkRequestBody(request: WireCheckRequest): Buffer {
  return grpcFrame(encodeCheckRequest(request));
}
