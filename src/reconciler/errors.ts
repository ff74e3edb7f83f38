/** Why a Service produced nothing (reported per Service; the other Services are still generated). */
export type ServiceErrorCode =
  | 'INVALID_ANNOTATION'
  | 'UNKNOWN_ANNOTATION'
  | 'MISSING_ALLOW_FROM'
  | 'NO_SELECTOR'
  | 'NAME_CONFLICT'
  | 'ROOT_NAMESPACE'
  | 'GENERATED_INVALID';

/** One problem with one Service. `annotation` names the offending key when there is one. */
export interface ServiceError {
  readonly code: ServiceErrorCode;
  /** `namespace/name` of the Service. */
  readonly service: string;
  readonly annotation: string | null;
  readonly message: string;
}

/** Errors of the reconciler itself (bad input files, API failures), not of one Service. */
export type ReconcileErrorCode = 'INPUT_UNREADABLE' | 'INPUT_SYNTAX' | 'OUTPUT_UNWRITABLE' | 'KUBE_API';

export class ReconcileError extends Error {
  override readonly name = 'ReconcileError';
  /** The HTTP status of a failed Kubernetes API call, else null. */
  readonly status: number | null;
  constructor(
    readonly code: ReconcileErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number | null },
  ) {
    super(message, options);
    this.status = options?.status ?? null;
  }
}

export function formatServiceError(e: ServiceError): string {
  return `Service ${e.service}: ${e.annotation ? `${e.annotation}: ` : ''}${e.message} [${e.code}]`;
}
