import type { CheckOutcome } from '../authz/outcome.js';
import type { WireCheckRequest } from '../authz/wire-types.js';
import { policyName } from '../policy/types.js';
import type { AssembledParts } from '../server/assemble.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';
import {
  closeParts,
  loadOfflineConfig,
  OfflineInputError,
  offlinePipeline,
  openOfflineParts,
  parseAt,
  readCheckRequest,
} from './offline.js';

const HELP = `mesh-authz check: decide one CheckRequest offline, exactly as the server would

Usage: mesh-authz check [-c <file>] [-p <file|dir>]... -r <file|-> [--at <time>]

  -c, --config <file>     the config file (policies, identity, mode); defaults apply without one
  -p, --policy <path>     AuthorizationPolicy file or folder (repeatable); replaces policy.paths
  -r, --request <file|->  the CheckRequest as proto3 JSON (camelCase or snake_case field names); '-' reads stdin
  --at <time>             judge credential expiry at this time (RFC 3339), not now; request.time never decides it

Prints one JSON object: allowed, status (OK, PERMISSION_DENIED, UNAUTHENTICATED, UNAVAILABLE), httpStatus,
reason, policy (namespace/name or null) and more. Exit 0 whenever a decision was made (allow or deny); 2 on bad
input.

Examples:
  mesh-authz check -c examples/config.yaml -r examples/requests/allowed.json
  mesh-authz check -c examples/config.yaml -p new-policies/ -r examples/requests/denied.json
  envoy-request-dump | mesh-authz check -c config.yaml -r -`;

const options = {
  config: { type: 'string' },
  policy: { type: 'string', multiple: true },
  request: { type: 'string' },
  at: { type: 'string' },
} as const;

export const checkCommand: Command = {
  summary: 'decide one CheckRequest (JSON) offline, as the server would',
  help: HELP,
  options,
  async run(argv) {
    const { values } = parseCommandArgs(argv, options);
    if (!values.request) throw new UsageError('--request is required (a file, or - for stdin)');
    const at = parseAt(values.at);
    const loaded = loadOfflineConfig(values.config);
    let request: WireCheckRequest;
    let parts: AssembledParts;
    try {
      request = readCheckRequest(values.request);
      parts = await openOfflineParts(loaded, values.policy);
    } catch (err) {
      if (!(err instanceof OfflineInputError)) throw err;
      process.stderr.write(`mesh-authz check: ${err.message}\n`);
      return 2;
    }
    try {
      const pipeline = offlinePipeline(loaded, parts, at);
      const outcome = await pipeline.check(request);
      process.stdout.write(`${JSON.stringify(report(outcome), null, 2)}\n`);
      return 0;
    } finally {
      await closeParts(parts);
    }
  },
};

/** The printed result: the contract fields first, then what helps explain it. */
export function report(outcome: CheckOutcome): Record<string, unknown> {
  const d = outcome.decision;
  return {
    allowed: outcome.allowed,
    status: outcome.status,
    httpStatus: outcome.httpStatus,
    reason: outcome.reason,
    policy: d?.policy ? policyName(d.policy) : null,
    reasonCode: outcome.reasonCode,
    phase: outcome.phase,
    rule: d?.ruleIndex ?? null,
    dryRun: outcome.dryRun,
    workload: outcome.input?.workload ?? null,
    workloadResolution: outcome.input?.workloadResolution ?? null,
    workloadName: outcome.input?.workloadName || null,
    peer: outcome.peer?.spiffeId ?? null,
    user: outcome.user
      ? { issuer: outcome.user.issuer, subject: outcome.user.subject, groups: outcome.user.groups }
      : null,
    shadow: (d?.shadow ?? []).map((s) => ({
      policy: policyName(s.policy),
      rule: s.ruleIndex,
      wouldAllow: s.wouldAllow,
    })),
    decisionId: outcome.decisionId,
  };
}
