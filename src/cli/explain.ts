import { InvalidCheckRequest, toCheckInput } from '../authz/input.js';
import { toRequestAttributes, WORKLOAD_UNRESOLVED } from '../authz/pipeline.js';
import { unresolvedReason } from '../authz/resolve.js';
import type { WireCheckRequest } from '../authz/wire-types.js';
import type { IdentityOutcome } from '../identity/types.js';
import { explain, formatExplanation, PolicySet } from '../policy/index.js';
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
    let input: ReturnType<typeof toCheckInput>;
    try {
      const request: WireCheckRequest = readCheckRequest(values.request);
      parts = await openOfflineParts(loaded, values.policy);
      try {
        input = toCheckInput(request, undefined, parts.registry);
      } catch (err) {
        await closeParts(parts);
        throw err;
      }
    } catch (err) {
      if (err instanceof OfflineInputError || err instanceof InvalidCheckRequest) {
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
      const identity: IdentityOutcome = await parts.identity.verify({
        certificate: input.source.certificate,
        principal: input.source.principal,
        headers: input.headers,
        filterMetadata: input.filterMetadata,
        now: input.time,
      });
      if (!identity.ok) {
        // The identity phase decides before any policy: say so instead of explaining rules that never ran.
        const failure = {
          allowed: false,
          status: 'UNAUTHENTICATED',
          httpStatus: 401,
          reasonCode: identity.error.code,
          reason: identity.error.safeMessage,
        };
        process.stdout.write(
          format === 'json'
            ? `${JSON.stringify({ identity: failure }, null, 2)}\n`
            : `identity: ${identity.error.code}: ${identity.error.safeMessage}\n` +
                'The request is denied UNAUTHENTICATED (HTTP 401) before any policy is evaluated.\n',
        );
        return 0;
      }
      const workload = {
        ...input.workload,
        resolution: input.workloadResolution,
        ...(input.workloadName ? { name: input.workloadName } : {}),
      };
      const unresolved = unresolvedReason(set, { workload: input.workload, resolution: input.workloadResolution });
      if (unresolved !== null) {
        // The server denies before evaluating: explaining rules against guessed labels would mislead.
        const deny = { allowed: false, status: 'PERMISSION_DENIED', httpStatus: 403, reasonCode: WORKLOAD_UNRESOLVED };
        process.stdout.write(
          format === 'json'
            ? `${JSON.stringify({ workload, decision: { ...deny, reason: unresolved } }, null, 2)}\n`
            : `workload: ${describeWorkload(workload)}\n${WORKLOAD_UNRESOLVED}: ${unresolved}\n` +
                'The request is denied PERMISSION_DENIED (HTTP 403) before any policy is evaluated.\n',
        );
        return 0;
      }
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
        process.stdout.write(
          `${who}\nworkload found by: ${workload.resolution}${workload.name ? ` (${workload.name})` : ''}\n${formatExplanation(e)}\n`,
        );
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
