/** Stable codes for failures to start or run the service. */
export type ServiceErrorCode = 'port_in_use' | 'bind_failed' | 'tls_invalid' | 'admin_bind_failed';

/** The service cannot start (or keep running). The message says what to change. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
