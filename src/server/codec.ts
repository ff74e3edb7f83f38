import { join } from 'node:path';
import protobuf from 'protobufjs';
import type { MalformedRequest, WireCheckRequest, WireCheckResponse } from '../authz/wire-types.js';
import { protosDir } from '../config/paths.js';
import { type DecodeLimits, readCheckRequest } from './check-decoder.js';

/**
 * The ext_authz v3 and grpc.health.v1 codec, loaded once from `protos/`: bytes in, {@link WireCheckRequest} out,
 * and responses back to bytes. The transport's only contact with protobuf; `authz/` reads the decoded message.
 */

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => {
  // google/protobuf/* are protobufjs' built-in common types; everything else is ours.
  if (target.startsWith('google/protobuf/')) return target;
  return join(protosDir(), target);
};
root.loadSync(['envoy/service/auth/v3/external_auth.proto', 'grpc/health/v1/health.proto'], { keepCase: false });
root.resolveAll();

export const CheckRequestType = root.lookupType('envoy.service.auth.v3.CheckRequest');
export const CheckResponseType = root.lookupType('envoy.service.auth.v3.CheckResponse');
export const HealthCheckRequestType = root.lookupType('grpc.health.v1.HealthCheckRequest');
export const HealthCheckResponseType = root.lookupType('grpc.health.v1.HealthCheckResponse');

/**
 * Decodes a CheckRequest for the Check path (check-decoder.ts: one pass, only the fields the core reads, limits
 * judged while reading). Never throws: a malformed or over-limit message becomes a {@link MalformedRequest}, so
 * the service can still answer gRPC OK with a deny (a gRPC error would hand the decision to Envoy's failure mode).
 * {@link CheckRequestType} (protobufjs, every field) stays for tools and for tests that compare the two.
 */
export function decodeCheckRequest(bytes: Uint8Array, limits?: DecodeLimits): WireCheckRequest | MalformedRequest {
  return readCheckRequest(bytes, limits);
}

export function encodeCheckResponse(response: WireCheckResponse): Buffer {
  const writer = CheckResponseType.encode(response as unknown as protobuf.Message);
  const bytes = writer.finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
