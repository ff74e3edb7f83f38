import { MeshAuthzError } from '../errors.js';
/** Stable codes for failures to start or run the service. */
export type ServiceErrorCode = 'port_in_use' | 'bind_failed' | 'tls_invalid' | 'admin_bind_failed';

/** The service cannot start (or keep running). The message says what to change. */
export class ServiceError extends MeshAuthzError<ServiceErrorCode> {
  override readonly name = 'ServiceError';
  constructor(code: ServiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { ...options, exitCode: code === 'tls_invalid' ? 2 : 1 });
  }
}
