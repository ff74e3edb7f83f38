import type { ListeningAddresses } from './service.js';

/**
 * The messages between the cluster primary and its workers, over node:cluster's IPC channel (which prom-client's
 * AggregatorRegistry shares: every message of ours carries a `mesh-authz:` type, anything else is not ours).
 */

/** Environment variable telling a forked worker its slot (1..N); a replacement keeps the slot of the one it replaces. */
export const WORKER_SLOT_ENV = 'MESH_AUTHZ_WORKER_SLOT';

/** Worker → primary: listening (sent once, after the worker's start() resolved). */
export interface ListeningMessage {
  readonly type: 'mesh-authz:listening';
  readonly addresses: ListeningAddresses;
  readonly ready: boolean;
  readonly detail: readonly string[];
}

/** Worker → primary: its own readiness (policies loaded, not draining) changed, or its readiness detail did. */
export interface StatusMessage {
  readonly type: 'mesh-authz:status';
  readonly ready: boolean;
  readonly detail: readonly string[];
}

/** Primary → worker: whether the cluster may say SERVING (every worker has started and none is draining). */
export interface ReleaseMessage {
  readonly type: 'mesh-authz:release';
}

/** Primary → worker: shut down (with the SIGTERM grace, or without it for SIGINT / a failed start). */
export interface ShutdownMessage {
  readonly type: 'mesh-authz:shutdown';
  readonly reason: string;
  readonly grace: boolean;
}

export type WorkerMessage = ListeningMessage | StatusMessage;
export type PrimaryMessage = ReleaseMessage | ShutdownMessage;

function typed(message: unknown): string | null {
  if (typeof message !== 'object' || message === null) return null;
  const type = (message as { type?: unknown }).type;
  return typeof type === 'string' && type.startsWith('mesh-authz:') ? type : null;
}

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  const type = typed(message);
  return type === 'mesh-authz:listening' || type === 'mesh-authz:status';
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  const type = typed(message);
  return type === 'mesh-authz:release' || type === 'mesh-authz:shutdown';
}
