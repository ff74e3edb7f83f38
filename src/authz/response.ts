import { type CheckOutcome, GRPC_CODE } from './outcome.js';
import { jsonToStruct, type WireCheckResponse, type WireHeaderValueOption } from './wire.js';

/** Header carrying the short reason on every deny. */
export const REASON_HEADER = 'x-mesh-authz-reason';
/** Header carrying the decision id on every deny (the same id is in the decision log and the span). */
export const DECISION_ID_HEADER = 'x-mesh-authz-decision-id';

/** Overwrite, never append: a client-sent header of the same name must not survive beside ours. */
function header(key: string, value: string): WireHeaderValueOption {
  return { header: { key, value }, append: { value: false }, appendAction: 2 };
}

/** Header values must be a single line of visible ASCII; reasons are ours, but be strict anyway. */
function safeHeaderValue(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 256);
}

/**
 * CheckOutcome → CheckResponse. The gRPC call itself always succeeds; the decision is in `status`
 * (Envoy treats a gRPC error as a failure and applies its failure mode instead of our decision).
 */
export function buildResponse(outcome: CheckOutcome): WireCheckResponse {
  const metadata: Record<string, unknown> = {
    decision_id: outcome.decisionId,
    allowed: outcome.allowed,
    reason_code: outcome.reasonCode,
  };
  const policy = outcome.decision?.policy;
  if (policy) metadata.policy = `${policy.namespace}/${policy.name}`;
  if (outcome.dryRun) metadata.dry_run = true;
  const dynamicMetadata = jsonToStruct(metadata);

  if (outcome.allowed) {
    const headers: WireHeaderValueOption[] = [];
    if (outcome.dryRun) headers.push(header('x-mesh-authz-dry-run', 'deny'));
    return {
      status: { code: GRPC_CODE.OK },
      okResponse: { headers },
      dynamicMetadata,
    };
  }
  const reason = safeHeaderValue(outcome.reason);
  const headers = [header(REASON_HEADER, reason), header(DECISION_ID_HEADER, outcome.decisionId)];
  if (outcome.wwwAuthenticate) headers.push(header('www-authenticate', outcome.wwwAuthenticate));
  const title = outcome.httpStatus === 401 ? 'Unauthenticated' : 'Forbidden';
  return {
    status: { code: GRPC_CODE[outcome.status], message: reason },
    deniedResponse: {
      status: { code: outcome.httpStatus },
      headers,
      body: `${title}: ${reason} (decision ${outcome.decisionId})\n`,
    },
    dynamicMetadata,
  };
}
