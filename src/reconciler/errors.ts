import { MeshAuthzError } from '../errors.js';
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

/** Errors of the reconciler itself (bad input files, unwritable output), not of one Service. API failures are `KubeError`s. */
export type ReconcileErrorCode = 'INPUT_UNREADABLE' | 'INPUT_SYNTAX' | 'OUTPUT_UNWRITABLE';

export class ReconcileError extends MeshAuthzError<ReconcileErrorCode> {
  override readonly name = 'ReconcileError';
  constructor(code: ReconcileErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { ...options, exitCode: code.toLowerCase() === 'kube_api' ? 1 : 2 });
  }
}

export function formatServiceError(e: ServiceError): string {
  return `Service ${e.service}: ${e.annotation ? `${e.annotation}: ` : ''}${e.message} [${e.code}]`;
}
