import { toRequestAttributes, WORKLOAD_UNRESOLVED } from '../authz/pipeline.js';
import type { WireCheckRequest } from '../authz/wire-types.js';
import { explain, formatExplanation, PolicySet } from '../policy/index.js';
import { createPipeline } from '../server/assemble.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';
import { closeParts, loadOfflineConfig, OfflineInputError, openOfflineParts, readCheckRequest } from './offline.js';

const HELP = `mesh-authz explain --config <file> --request <file|-> [options]

Explains the decision for one CheckRequest (proto3 JSON, as Envoy sends it), the way the server decides it: the
caller's credentials are verified with the config's identity settings (certificate against the trust bundles,
end-user JWT against the issuers), then, for each policy that selects the destination workload, each rule and the
first condition that failed.

Options:
  --config <file>     the mesh-authz config (policy paths, identity, root namespace, path normalization)
  --policy <path>     policy file or folder, instead of the config's policy.paths (repeatable)
  --request <file|->  the CheckRequest JSON file, or - for stdin
  --format text|json  output format (default text)

Exit 0 when a decision was explained, 2 on bad input (request, policies or config), naming the file.`;

export const explainCommand: Command = {
  summary: 'explain the policy decision for one CheckRequest',
  help: HELP,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      config: { type: 'string' },
      policy: { type: 'string', multiple: true },
      request: { type: 'string' },
      format: { type: 'string' },
    });
    if (!values.config) throw new UsageError('--config is required');
    if (!values.request) throw new UsageError('--request is required');
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError('--format must be text or json');
    const loaded = loadOfflineConfig(values.config);
    let parts: Awaited<ReturnType<typeof openOfflineParts>>;
    let request: WireCheckRequest;
    try {
      request = readCheckRequest(values.request);
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
      if (!(set instanceof PolicySet)) {
        process.stderr.write('mesh-authz explain: no policies are configured (policy.paths or --policy)\n');
        return 2;
      }
      // The server's own pipeline decides first (input limits, identity sources, mode: all from the config), so
      // what is explained is exactly what the server would answer.
      const { outcome } = await createPipeline(loaded, parts, { defaultTimeoutMs: 10_000 }).check(request);
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
      const e = explain(set, input.workload, attrs);
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
