import type { Decision, EndUser, PeerIdentity } from '../policy/types.js';
import type { CheckInput } from './input.js';
import type { ReasonCode } from './reasons.js';

/** gRPC status names a CheckResponse carries. */
export type CheckStatus = 'OK' | 'PERMISSION_DENIED' | 'UNAUTHENTICATED' | 'UNAVAILABLE';

export const GRPC_CODE: Readonly<Record<CheckStatus, number>> = {
  OK: 0,
  PERMISSION_DENIED: 7,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
};

/** Which phase decided. */
export type CheckPhase = 'input' | 'identity' | 'decision' | 'internal';

/** Everything known about one Check once it is decided: what logs, spans, metrics and `check` print. */
export interface CheckOutcome {
  readonly decisionId: string;
  readonly allowed: boolean;
  readonly status: CheckStatus;
  readonly httpStatus: number;
  readonly phase: CheckPhase;
  /** A stable machine-readable reason: an identity error code, a decision code, `invalid_request`, `deadline`… */
  readonly reasonCode: ReasonCode;
  /** Human-readable; safe for the caller (no secrets). */
  readonly reason: string;
  readonly decision: Decision | null;
  /** Global dry-run: the decision was a deny but the request was allowed. */
  readonly dryRun: boolean;
  readonly input: CheckInput | null;
  readonly peer: PeerIdentity | null;
  readonly user: EndUser | null;
  readonly cacheHit: boolean;
  readonly policyGeneration: number;
  readonly durationUs: number;
  readonly wwwAuthenticate: string | null;
}
