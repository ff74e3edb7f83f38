/**
 * Transport and lifecycle around the pure Check core: the gRPC server (Check + Health) over node:http2 or grpc-js
 * (`server.transport`), the protobuf codec, reloading TLS credentials, the admin HTTP listener,
 * start/readiness/drain, and the one assembly of the parts from a config (`assemble`), shared by `serve`, `check`
 * and `explain`.
 */
export { type AdminHandler, type AdminOptions, AdminServer } from './admin.js';
export { type AssembledParts, assembleParts, type PartsOverrides } from './assemble.js';
export { decodeCheckRequest, encodeCheckResponse } from './codec.js';
export { ServiceError, type ServiceErrorCode } from './errors.js';
export { AUTHORIZATION_SERVICE, HealthState, ServingStatus, type ServingStatusName } from './health.js';
export { createHttp2Transport } from './http2-transport.js';
export { checkRequestFromJson, RequestJsonError } from './request-json.js';
export { authorizationServiceDefinition, CHECK_METHOD_PATH, createAuthzServer } from './server.js';
export {
  AuthzService,
  type ListeningAddresses,
  type ServiceLogger,
  type ServiceParts,
  SILENT_LOGGER,
} from './service.js';
export { shutdownOnSignals } from './signals.js';
export { ReloadingServerCredentials, readTlsMaterial, type TlsFiles } from './tls.js';
export type { AuthzTransport } from './transport.js';
