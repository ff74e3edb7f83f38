import { MeshAuthzError } from '../errors.js';
/** Why a Service produced nothing (reported per Service; the other Services are still generated). */
export type ServiceErrorCode =
  | 'invalid_annotation'
  | 'unknown_annotation'
  | 'missing_allow_from'
  | 'no_selector'
  | 'name_conflict'
  | 'root_namespace'
  | 'generated_invalid';

/** One problem with one Service. `annotation` names the offending key when there is one. */
export interface ServiceError {
  readonly code: ServiceErrorCode;
  /** `namespace/name` of the Service. */
  readonly service: string;
  readonly annotation: string | null;
  readonly message: string;
}

/** Errors of the reconciler itself (bad input files, unwritable output), not of one Service. API failures are `KubeError`s. */
export type ReconcileErrorCode = 'input_unreadable' | 'input_syntax' | 'output_unwritable';

export class ReconcileError extends MeshAuthzError<ReconcileErrorCode> {
  override readonly name = 'ReconcileError';
  constructor(code: ReconcileErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { ...options, exitCode: code.toLowerCase() === 'kube_api' ? 1 : 2 });
  }
}

export function formatServiceError(e: ServiceError): string {
  return `Service ${e.service}: ${e.annotation ? `${e.annotation}: ` : ''}${e.message} [${e.code}]`;
}
