import { type Decision, policyName } from '../policy/types.js';
import { type CheckOutcome, GRPC_CODE } from './outcome.js';
import { jsonToStruct, type WireCheckResponse, type WireHeaderValueOption } from './wire-types.js';

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
 * How much of a deny's reason travels back to the caller (`response.detail`). Envoy forwards a deny's headers and
 * body to the downstream client, so by default they carry only a generic class and the decision id (CWE-209: no
 * policy names, rule indexes or file paths); the full reason is in the decision log, the span and `explain`.
 * - `minimal`: `denied` | `unauthenticated` | `unavailable`;
 * - `policy`: the class, the reason code and the deciding policy's `namespace/name` (internal meshes);
 * - `full`: the whole human-readable reason, file:line included (development).
 */
export type ResponseDetail = 'minimal' | 'policy' | 'full';

/** The generic class of a deny: all a caller learns by default. */
export function reasonClass(outcome: CheckOutcome): 'denied' | 'unauthenticated' | 'unavailable' {
  if (outcome.status === 'UNAUTHENTICATED' || outcome.httpStatus === 401) return 'unauthenticated';
  if (outcome.status === 'UNAVAILABLE') return 'unavailable';
  return 'denied';
}

/** The reason text a deny carries to the caller at the given detail level. */
export function callerReason(outcome: CheckOutcome, detail: ResponseDetail): string {
  if (detail === 'full') return outcome.reason;
  const cls = reasonClass(outcome);
  if (detail === 'minimal') return cls;
  const policy = outcome.decision?.policy;
  return `${cls}: ${outcome.reasonCode}${policy ? ` (${policyName(policy)})` : ''}`;
}

/**
 * CheckOutcome → CheckResponse. The gRPC call itself always succeeds; the decision is in `status`
 * (Envoy treats a gRPC error as a failure and applies its failure mode instead of our decision).
 */
export function buildResponse(outcome: CheckOutcome, detail: ResponseDetail = 'minimal'): WireCheckResponse {
  const metadata: Record<string, unknown> = {
    decision_id: outcome.decisionId,
    allowed: outcome.allowed,
    reason_code: outcome.reasonCode,
  };
  const policy = outcome.decision?.policy;
  // Dynamic metadata stays in Envoy (access logs, later filters), but a deny's policy name is only given out when
  // the operator asked for more than the minimum.
  if (policy && (outcome.allowed || detail !== 'minimal')) metadata.policy = policyName(policy);
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
  const reason = safeHeaderValue(callerReason(outcome, detail));
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

/** A response's bytes with the decision id left out: the id's byte offsets are patched per request. */
interface Template {
  readonly bytes: Buffer;
  readonly idLength: number;
  readonly offsets: readonly number[];
  /** The dry-run flag of the outcome it was made for (one Decision answers differently in dry-run). */
  readonly dryRun: boolean;
}

/** Seen once (encoded the slow way), or not templatable (its bytes hold the id an unexpected number of times). */
const SEEN_ONCE = 1;
const NOT_TEMPLATABLE = 2;

/** Bound on remembered response shapes; past it the memo starts over (reasons quoting request data can vary). */
const MAX_TEMPLATES = 4096;

/**
 * CheckOutcome → CheckResponse bytes, fast. Two checks with the same decision get the same response except for
 * the decision id (in `dynamic_metadata` and, on a deny, a header and the body), and ids of one process all have
 * the same length. So the second time a response shape is seen its bytes are encoded once with a placeholder id
 * and remembered with the placeholder's offsets; from then on a response is one copy plus an id write, instead of
 * building the message objects and running the protobuf encoder. The first sighting, and anything unusual (an id
 * of another length), takes the plain {@link buildResponse} + encoder path, which gives the same bytes.
 */
export class ResponseEncoder {
  private readonly shapes = new Map<string, Template | typeof SEEN_ONCE | typeof NOT_TEMPLATABLE>();
  /** Templates by Decision object, for outcomes decided by policy (the same Decision gives the same response). */
  private byDecision = new WeakMap<Decision, Template>();

  constructor(
    private readonly encodeSlow: (response: WireCheckResponse) => Buffer,
    private readonly detail: ResponseDetail = 'minimal',
  ) {}

  encode(outcome: CheckOutcome): Buffer {
    // A cache hit hands back the very Decision object it stored: look it up by identity first (no key to build).
    const decision = outcome.phase === 'decision' ? outcome.decision : null;
    const known = decision === null ? undefined : this.byDecision.get(decision);
    if (known !== undefined && fits(known, outcome)) return fill(known, outcome);
    const key = shapeKey(outcome);
    const shape = this.shapes.get(key);
    if (typeof shape === 'object' && fits(shape, outcome)) {
      if (decision !== null) this.byDecision.set(decision, shape);
      return fill(shape, outcome);
    }
    // Only policy decisions are remembered: their reasons come from the policies, a small set. Other outcomes
    // (identity failures, malformed requests) can quote what the caller sent, and remembering those would let a
    // caller churn the memo and push out the hot shapes.
    if (outcome.phase === 'decision') {
      if (shape === SEEN_ONCE) {
        this.remember(key, makeTemplate(outcome, this.encodeSlow, this.detail) ?? NOT_TEMPLATABLE);
      } else if (shape === undefined) this.remember(key, SEEN_ONCE);
    }
    return this.encodeSlow(buildResponse(outcome, this.detail));
  }

  /** Response shapes remembered (tests, metrics). */
  get size(): number {
    return this.shapes.size;
  }

  private remember(key: string, value: Template | typeof SEEN_ONCE | typeof NOT_TEMPLATABLE): void {
    if (this.shapes.size >= MAX_TEMPLATES && !this.shapes.has(key)) {
      this.shapes.clear();
      this.byDecision = new WeakMap();
    }
    this.shapes.set(key, value);
  }
}

function fits(template: Template, outcome: CheckOutcome): boolean {
  return template.idLength === outcome.decisionId.length && template.dryRun === outcome.dryRun;
}

function fill(template: Template, outcome: CheckOutcome): Buffer {
  const out = Buffer.allocUnsafe(template.bytes.length);
  template.bytes.copy(out);
  for (const offset of template.offsets) out.write(outcome.decisionId, offset, 'latin1');
  return out;
}

/** Everything {@link buildResponse} reads except the decision id. */
function shapeKey(o: CheckOutcome): string {
  const p = o.decision?.policy;
  return `${o.status}\u0000${o.httpStatus}\u0000${o.allowed}\u0000${o.dryRun}\u0000${o.reasonCode}\u0000${
    p ? policyName(p) : ''
  }\u0000${o.wwwAuthenticate ?? ''}\u0000${o.reason}`;
}

/**
 * Encodes the outcome with a placeholder id (a run of U+0001, which no other part of a response can contain:
 * reasons are sanitized to printable ASCII, names are DNS labels) and finds where the id landed. Null when the
 * count is not the expected one (metadata only on an allow; metadata, header and body on a deny), or when the
 * id is not plain ASCII (latin1Write would not write it as UTF-8 does).
 */
function makeTemplate(
  outcome: CheckOutcome,
  encode: (r: WireCheckResponse) => Buffer,
  detail: ResponseDetail,
): Template | null {
  const idLength = outcome.decisionId.length;
  if (idLength === 0 || !/^[\x21-\x7e]+$/.test(outcome.decisionId)) return null;
  const placeholder = '\u0001'.repeat(idLength);
  const bytes = encode(buildResponse({ ...outcome, decisionId: placeholder }, detail));
  const needle = Buffer.from(placeholder, 'latin1');
  const offsets: number[] = [];
  for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + idLength)) offsets.push(at);
  return offsets.length === (outcome.allowed ? 1 : 3) ? { bytes, idLength, offsets, dryRun: outcome.dryRun } : null;
}
