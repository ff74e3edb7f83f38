import type { CheckOutcome } from '../authz/outcome.js';
import type { WireCheckRequest } from '../authz/wire-types.js';
import { type AssembledParts, createPipeline } from '../server/assemble.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';
import { closeParts, loadOfflineConfig, OfflineInputError, openOfflineParts, readCheckRequest } from './offline.js';

const HELP = `mesh-authz check: decide one CheckRequest offline, exactly as the server would

Usage: mesh-authz check [--config <file>] [--policy <file|dir>]... --request <file|->

  --config, -c    the config file (policies, identity, mode); defaults apply without one
  --policy, -p    AuthorizationPolicy file or folder (repeatable); replaces policy.paths
  --request, -r   the CheckRequest as proto3 JSON (camelCase or snake_case field names); '-' reads stdin

Prints one JSON object: allowed, status (OK, PERMISSION_DENIED, UNAUTHENTICATED, UNAVAILABLE), httpStatus,
reason, policy (namespace/name or null) and more. Exit 0 whenever a decision was made; 2 on bad input.`;

export const checkCommand: Command = {
  summary: 'decide one CheckRequest (JSON) offline, as the server would',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      config: { type: 'string', short: 'c' },
      policy: { type: 'string', short: 'p', multiple: true },
      request: { type: 'string', short: 'r' },
    });
    if (!values.request) throw new UsageError('--request is required (a file, or - for stdin)');
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
      // Offline there is no Envoy deadline to meet; allow slow disks / first JWKS reads.
      const pipeline = createPipeline(loaded, parts, { defaultTimeoutMs: 10_000 });
      const { outcome } = await pipeline.check(request);
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
    policy: d?.policy ? `${d.policy.namespace}/${d.policy.name}` : null,
    reasonCode: outcome.reasonCode,
    phase: outcome.phase,
    rule: d?.ruleIndex ?? null,
    dryRun: outcome.dryRun,
    workload: outcome.input?.workload ?? null,
    peer: outcome.peer?.spiffeId ?? null,
    user: outcome.user
      ? { issuer: outcome.user.issuer, subject: outcome.user.subject, groups: outcome.user.groups }
      : null,
    shadow: (d?.shadow ?? []).map((s) => ({
      policy: `${s.policy.namespace}/${s.policy.name}`,
      rule: s.ruleIndex,
      wouldAllow: s.wouldAllow,
    })),
    decisionId: outcome.decisionId,
  };
}
