import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type AssembledParts, assembleParts } from '../authz/assemble.js';
import { checkRequestFromJson, RequestJsonError } from '../authz/json.js';
import type { CheckOutcome } from '../authz/outcome.js';
import { CheckPipeline } from '../authz/pipeline.js';
import type { WireCheckRequest } from '../authz/wire.js';
import { type LoadedConfig, loadConfigFile, parseConfigText } from '../config/load.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';

const HELP = `mesh-authz check: decide one CheckRequest offline, exactly as the server would

Usage: mesh-authz check [--config <file>] [--policy <file|dir>]... --request <file|->

  --config, -c    the config file (policies, identity, mode); defaults apply without one
  --policy, -p    AuthorizationPolicy file or folder (repeatable); replaces policy.paths
  --request, -r   the CheckRequest as proto3 JSON (camelCase or snake_case field names); '-' reads stdin

Prints one JSON object: allowed, status (OK, PERMISSION_DENIED, UNAUTHENTICATED, UNAVAILABLE), httpStatus,
reason, policy (namespace/name or null) and more. Exit 0 whenever a decision was made; 2 on bad input.`;

/** A request file that cannot be used: exit 2 with the file and what is wrong. */
class RequestFileError extends Error {
  override readonly name = 'RequestFileError';
}

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
    let request: WireCheckRequest;
    try {
      request = readRequest(values.request);
    } catch (err) {
      if (!(err instanceof RequestFileError)) throw err;
      process.stderr.write(`mesh-authz check: ${err.message}\n`);
      return 2;
    }
    const loaded: LoadedConfig = values.config
      ? loadConfigFile(values.config)
      : { config: parseConfigText('', resolve('(defaults)')), file: resolve('(defaults)'), dir: process.cwd() };
    let parts: AssembledParts;
    try {
      parts = await assembleParts(loaded, {
        ...(values.policy ? { policyPaths: values.policy.map((p) => resolve(p)) } : {}),
        watch: false,
      });
    } catch (err) {
      process.stderr.write(
        `mesh-authz check: invalid identity configuration in ${loaded.file}: ${(err as Error).message}\n`,
      );
      return 2;
    }
    try {
      await parts.policies.start();
    } catch (err) {
      process.stderr.write(`mesh-authz check: cannot load policies: ${(err as Error).message}\n`);
      await Promise.allSettled([parts.policies.close(), parts.identity.close()]);
      return 2;
    }
    try {
      const pipeline = new CheckPipeline({
        policies: () => parts.policies.current(),
        identity: parts.identity,
        mode: loaded.config.policy.mode,
        limits: {
          maxPathBytes: loaded.config.server.maxPathBytes,
          maxHeaderBytes: loaded.config.server.maxHeaderBytes,
          maxHeaders: loaded.config.server.maxHeaders,
        },
        trustedProxies: loaded.config.server.trustedProxies,
        // Offline there is no Envoy deadline to meet; allow slow disks / first JWKS reads.
        defaultTimeoutMs: 10_000,
      });
      const { outcome } = await pipeline.check(request);
      process.stdout.write(`${JSON.stringify(report(outcome), null, 2)}\n`);
      return 0;
    } finally {
      await Promise.allSettled([parts.policies.close(), parts.identity.close()]);
    }
  },
};

function readRequest(path: string): WireCheckRequest {
  const name = path === '-' ? '(stdin)' : path;
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RequestFileError(`${name}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RequestFileError(`${name}: not valid JSON: ${(err as Error).message}`);
  }
  try {
    return checkRequestFromJson(json);
  } catch (err) {
    if (err instanceof RequestJsonError) throw new RequestFileError(`${name}: ${err.message}`);
    throw err;
  }
}

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
