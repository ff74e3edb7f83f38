/** Why a Kubernetes call failed: the connection settings (kubeconfig, service account files) or the API itself. */
export type KubeErrorCode = 'kube_config' | 'kube_api';

/** A failed Kubernetes operation. `status` is the HTTP status of a failed API call, else null. */
export class KubeError extends Error {
  override readonly name = 'KubeError';
  readonly status: number | null;
  constructor(
    readonly code: KubeErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number | null },
  ) {
    super(message, options);
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
