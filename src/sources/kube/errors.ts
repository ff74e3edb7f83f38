import { MeshAuthzError } from '../../errors.js';
/** Why a Kubernetes call failed: the connection settings (kubeconfig, service account files) or the API itself. */
export type KubeErrorCode = 'kube_config' | 'kube_api';

/** A failed Kubernetes operation. `status` is the HTTP status of a failed API call, else null. */
export class KubeError extends MeshAuthzError<KubeErrorCode> {
  override readonly name = 'KubeError';
  readonly status: number | null;
  constructor(code: KubeErrorCode, message: string, options?: { cause?: unknown; status?: number | null }) {
    // A bad kubeconfig is the operator's input to fix; a failed API call is a runtime failure.
    super(code, message, { cause: options?.cause, exitCode: code === 'kube_config' ? 2 : 1 });
    this.status = options?.status ?? null;
  }
}

/** The HTTP status of a failed call ({@link KubeError}, or a Status object from a watch), when it has one. */
export function statusOf(err: unknown): number | null {
  const e = err as { code?: unknown; status?: unknown } | null;
  if (typeof e?.status === 'number') return e.status;
  if (typeof e?.code === 'number') return e.code;
  return null;
}
