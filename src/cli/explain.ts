import { toRequestAttributes, WORKLOAD_UNRESOLVED } from '../authz/pipeline.js';
import type { WireCheckRequest } from '../authz/wire-types.js';
import { type CompiledPolicySet, formatExplanation } from '../policy/index.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';
import {
  identitiesFromLog,
  type LoggedDecision,
  readLoggedDecision,
  requestFromLog,
  sameDecision,
} from './as-logged.js';
import {
  closeParts,
  loadOfflineConfig,
  OfflineInputError,
  offlinePipeline,
  openOfflineParts,
  parseAt,
  readCheckRequest,
} from './offline.js';

const HELP = `mesh-authz explain --config <file> (--request <file|-> | --as-logged <log|->) [options]

Explains the decision for one CheckRequest (proto3 JSON, as Envoy sends it), the way the server decides it: the
caller's credentials are verified with the config's identity settings (certificate against the trust bundles,
end-user JWT against the issuers), then, for each policy that selects the destination workload, each rule and the
first condition that failed.

With --as-logged, replays a decision log line instead: the log has no certificate or token to verify, so the
identities the server verified and logged (source_principal, user_issuer/subject/groups) are trusted as logged,
and the request is rebuilt from the line (workload, method, path, host, source address; no headers, no other
JWT claims). The output says whether the replay reaches the logged decision (same code, policy and rule).

Options:
  -c, --config <file>     the mesh-authz config (policy paths, identity, root namespace, path normalization)
  -p, --policy <path>     policy file or folder, instead of the config's policy.paths (repeatable)
  -r, --request <file|->  the CheckRequest JSON file, or - for stdin
  --as-logged <log|->     a decision log (JSON lines, e.g. grep output), or - for stdin
  --decision-id <id>      with --as-logged: the line to replay when the log has several
  -f, --format text|json  output format (default text)
  --at <time>             judge credential expiry at this time (RFC 3339), not now; request.time never decides it

Exit 0 when a decision was explained, 2 on bad input (request, log line, policies or config), naming the file.

Examples:
  mesh-authz explain -c examples/config.yaml -r examples/requests/user-denied.json
  mesh-authz explain -c examples/config.yaml -p new-policies/ -r examples/requests/denied.json -f json
  mesh-authz explain -c config.yaml --as-logged decisions.jsonl --decision-id 8f3c2a`;

const options = {
  config: { type: 'string' },
  policy: { type: 'string', multiple: true },
  request: { type: 'string' },
  'as-logged': { type: 'string' },
  'decision-id': { type: 'string' },
  format: { type: 'string' },
  at: { type: 'string' },
} as const;

export const explainCommand: Command = {
  summary: 'explain the policy decision for one CheckRequest',
  help: HELP,
  options,
  async run(argv) {
    const { values } = parseCommandArgs(argv, options);
    const at = parseAt(values.at);
    if (!values.config) throw new UsageError('--config is required');
    if (!values.request && !values['as-logged']) throw new UsageError('--request or --as-logged is required');
    if (values.request && values['as-logged']) throw new UsageError('--request and --as-logged exclude each other');
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError('--format must be text or json');
    const loaded = loadOfflineConfig(values.config);
    let parts: Awaited<ReturnType<typeof openOfflineParts>>;
    let request: WireCheckRequest | null = null;
    let logged: LoggedDecision | null = null;
    try {
      if (values['as-logged']) logged = readLoggedDecision(values['as-logged'], values['decision-id']);
      else request = readCheckRequest(values.request ?? '-');
      parts = await openOfflineParts(loaded, values.policy);
    } catch (err) {
      if (err instanceof OfflineInputError) {
        process.stderr.write(`mesh-authz explain: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    try {
      const set = parts.policies.current();
      if (set === null) {
        process.stderr.write('mesh-authz explain: no policies are configured (policy.paths or --policy)\n');
        return 2;
      }
      if (logged !== null) return replayLogged(logged, set, loaded.config.server.trustedProxies, format);
      // The server's own pipeline decides first (input limits, identity sources, mode: all from the config), so
      // what is explained is exactly what the server would answer.
      const pipeline = offlinePipeline(loaded, parts, at);
      const outcome = await pipeline.check(request!);
      const input = outcome.input;
      const workload = input
        ? {
            ...input.workload,
            resolution: input.workloadResolution,
            ...(input.workloadName ? { name: input.workloadName } : {}),
          }
        : null;
      if (outcome.phase !== 'decision' || input === null || outcome.reasonCode === WORKLOAD_UNRESOLVED) {
        // The input or identity phase decided before any policy: say so instead of explaining rules that never ran.
        const failure = {
          allowed: outcome.allowed,
          status: outcome.status,
          httpStatus: outcome.httpStatus,
          phase: outcome.phase,
          reasonCode: outcome.reasonCode,
          reason: outcome.reason,
        };
        // workload_unresolved: the destination's labels are unknown, so no rule was evaluated (a guess would mislead).
        process.stdout.write(
          format === 'json'
            ? `${JSON.stringify({ [outcome.phase]: failure, ...(workload ? { workload } : {}) }, null, 2)}\n`
            : `${workload ? `workload: ${describeWorkload(workload)}\n` : ''}` +
                `${outcome.phase}: ${outcome.reasonCode}: ${outcome.reason}\n` +
                `The request is denied ${outcome.status} (HTTP ${outcome.httpStatus}) before any policy is evaluated.\n`,
        );
        return 0;
      }
      const identity = { peer: outcome.peer, user: outcome.user };
      const attrs = toRequestAttributes(input, identity.peer, identity.user, loaded.config.server.trustedProxies);
      const e = set.explain(input.workload, attrs);
      const peer = identity.peer ? identity.peer.spiffeId : null;
      const user = identity.user
        ? { issuer: identity.user.issuer, subject: identity.user.subject, groups: identity.user.groups }
        : null;
      if (format === 'json') {
        process.stdout.write(`${JSON.stringify({ identity: { peer, user }, ...e, workload }, null, 2)}\n`);
      } else {
        const who = `identity: peer ${peer ?? '(none: plaintext or no verified certificate)'}; end user ${
          user ? `${user.issuer}/${user.subject} groups [${user.groups.join(', ')}]` : '(none)'
        }`;
        const how = workload
          ? `workload found by: ${workload.resolution}${workload.name ? ` (${workload.name})` : ''}\n`
          : '';
        process.stdout.write(`${who}\n${how}${formatExplanation(e)}\n`);
      }
      return 0;
    } finally {
      await closeParts(parts);
    }
  },
};

/**
 * `--as-logged`: the line's request with the identities as logged (trusted: the server verified them, and the log
 * keeps nothing to verify them again), explained, and compared with the logged decision.
 */
function replayLogged(logged: LoggedDecision, set: CompiledPolicySet, trustedProxies: number, format: string): number {
  if (logged.phase !== 'decision' || logged.reason_code === WORKLOAD_UNRESOLVED) {
    // Decided before any policy ran (identity, input, internal; or the destination's labels were unknown): there
    // are no rules to replay, and replaying them against empty labels would explain a decision never made.
    const asLogged = { decisionId: logged.decision_id, phase: logged.phase, reasonCode: logged.reason_code };
    process.stdout.write(
      format === 'json'
        ? `${JSON.stringify({ asLogged }, null, 2)}\n`
        : `decision ${logged.decision_id} was decided in the ${logged.phase} phase (${logged.reason_code}), before any policy: nothing to replay.\n`,
    );
    return 0;
  }
  let input: ReturnType<typeof requestFromLog>;
  let identity: ReturnType<typeof identitiesFromLog>;
  try {
    input = requestFromLog(logged);
    identity = identitiesFromLog(logged);
  } catch (err) {
    if (err instanceof OfflineInputError) {
      process.stderr.write(`mesh-authz explain: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const attrs = toRequestAttributes(input, identity.peer, identity.user, trustedProxies);
  const e = set.explain(input.workload, attrs);
  const peer = identity.peer ? identity.peer.spiffeId : null;
  const user = identity.user
    ? { issuer: identity.user.issuer, subject: identity.user.subject, groups: identity.user.groups }
    : null;
  const replay = {
    decisionId: logged.decision_id,
    logged: { reasonCode: logged.reason_code, policy: logged.policy, rule: logged.rule },
    same: sameDecision(logged, e.decision),
  };
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify({ asLogged: replay, identity: { peer, user }, ...e }, null, 2)}\n`);
    return 0;
  }
  const who = `identity (as logged, trusted: verified by the server): peer ${peer ?? '(none)'}; end user ${
    user ? `${user.issuer}/${user.subject} groups [${user.groups.join(', ')}]` : '(none)'
  }`;
  const l = replay.logged;
  const verdict = `logged decision ${replay.decisionId}: ${l.reasonCode}${l.policy ? ` ${l.policy}` : ''}${
    l.rule === null ? '' : ` rule ${l.rule}`
  }; replay ${replay.same ? 'reaches the same decision' : 'DIFFERS (policies changed since? compare policy_generation)'}`;
  process.stdout.write(`${who}\n${formatExplanation(e)}\n${verdict}\n`);
  return 0;
}

/** `shop {app=orders} (registry_address: orders-1)`: which workload, and how it was found. */
function describeWorkload(w: {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  resolution: string;
  name?: string;
}): string {
  const labels = Object.entries(w.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${w.namespace || '(unknown namespace)'} {${labels}} (${w.resolution}${w.name ? `: ${w.name}` : ''})`;
}
