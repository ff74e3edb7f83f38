import { readFileSync } from 'node:fs';
import { toCheckInput } from '../authz/input.js';
import { tryParseSpiffeId } from '../identity/spiffe-id.js';
import { type Decision, type EndUser, type PeerIdentity, policyName } from '../policy/types.js';
import { checkRequestFromJson, RequestJsonError } from '../server/request-json.js';
import { OfflineInputError } from './offline.js';

/**
 * `explain --as-logged`: replays a decision log line. The line carries no certificate and no token (never
 * logged), only the identities the server had already verified (`source_principal`, `user_*`); re-verifying
 * is impossible, so this mode trusts them as logged and rebuilds the request from the line's workload, method,
 * path, host and source address. What the line cannot give back is said, not guessed: request headers and JWT
 * claims other than issuer, subject and groups are absent, so rules that read them evaluate as they would for
 * a request without them.
 */

/** The decision log fields this replay reads (a subset of telemetry's DecisionRecord). */
export interface LoggedDecision {
  readonly decision_id: string;
  readonly allowed: boolean;
  readonly phase: string;
  readonly reason_code: string;
  readonly policy: string | null;
  readonly rule: number | null;
  readonly source_principal: string | null;
  readonly source_ip: string | null;
  readonly user_issuer: string | null;
  readonly user_subject: string | null;
  readonly user_groups: readonly string[];
  readonly workload: { readonly namespace: string; readonly labels: Readonly<Record<string, string>> } | null;
  readonly method: string | null;
  readonly path: string | null;
  readonly host: string | null;
  readonly time?: string;
}

/** Reads one decision line from a log (file or `-`): the one with `decisionId`, or the only one. */
export function readLoggedDecision(path: string, decisionId: string | undefined): LoggedDecision {
  const name = path === '-' ? '(stdin)' : path;
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new OfflineInputError(`${name}: ${(err as Error).message}`);
  }
  const lines: LoggedDecision[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    if (raw.trim() === '' || !raw.includes('"decision_id"')) continue;
    try {
      const obj = JSON.parse(raw) as Record<string, unknown>;
      if (typeof obj.decision_id === 'string') lines.push(obj as unknown as LoggedDecision);
    } catch {
      throw new OfflineInputError(`${name}:${i + 1}: not a JSON decision log line`);
    }
  }
  const found = decisionId === undefined ? lines : lines.filter((l) => l.decision_id === decisionId);
  if (found.length === 0) {
    throw new OfflineInputError(
      `${name}: no decision log line${decisionId === undefined ? '' : ` with decision_id ${decisionId}`}`,
    );
  }
  if (found.length > 1)
    throw new OfflineInputError(`${name}: ${found.length} decision lines; pick one with --decision-id`);
  return found[0]!;
}

/** The CheckRequest the line describes (as proto3 JSON, then through the one reader of the wire message). */
export function requestFromLog(line: LoggedDecision) {
  if (line.workload === null || line.method === null || line.path === null) {
    throw new OfflineInputError(
      `decision ${line.decision_id}: the line has no request (phase ${line.phase}, ${line.reason_code}): nothing to replay`,
    );
  }
  const json = {
    attributes: {
      source: { address: { socketAddress: { address: line.source_ip ?? '' } } },
      contextExtensions: { namespace: line.workload.namespace, ...line.workload.labels },
      request: { http: { method: line.method, path: line.path, host: line.host ?? '', headers: {} } },
    },
  };
  try {
    return toCheckInput(checkRequestFromJson(json));
  } catch (err) {
    if (err instanceof RequestJsonError) throw new OfflineInputError(`decision ${line.decision_id}: ${err.message}`);
    throw err;
  }
}

/** The identities as logged: already verified by the server, trusted here because they cannot be re-verified. */
export function identitiesFromLog(line: LoggedDecision): { peer: PeerIdentity | null; user: EndUser | null } {
  let peer: PeerIdentity | null = null;
  if (line.source_principal !== null) {
    const id = tryParseSpiffeId(line.source_principal);
    if (id === null) {
      throw new OfflineInputError(`decision ${line.decision_id}: source_principal is not a SPIFFE ID`);
    }
    peer = {
      spiffeId: line.source_principal,
      trustDomain: id.trustDomain,
      namespace: id.namespace,
      serviceAccount: id.serviceAccount,
      expiresAt: Number.POSITIVE_INFINITY,
      credentialId: 'as-logged',
    };
  }
  let user: EndUser | null = null;
  if (line.user_subject !== null && line.user_issuer !== null) {
    const groups = [...line.user_groups];
    user = {
      issuer: line.user_issuer,
      subject: line.user_subject,
      audiences: [],
      presenter: null,
      claims: { iss: line.user_issuer, sub: line.user_subject, groups },
      groups,
      expiresAt: Number.POSITIVE_INFINITY,
      credentialId: 'as-logged',
    };
  }
  return { peer, user };
}

/** Whether a replayed decision is the logged one: same code, policy and rule. */
export function sameDecision(line: LoggedDecision, d: Decision): boolean {
  const policy = d.policy ? policyName(d.policy) : null;
  return d.code === line.reason_code && policy === line.policy && d.ruleIndex === line.rule;
}
