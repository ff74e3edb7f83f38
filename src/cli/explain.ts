import { readFile } from 'node:fs/promises';
import { InvalidCheckRequest, toCheckInput } from '../authz/input.js';
import { checkRequestFromJson, RequestJsonError } from '../authz/json.js';
import { toRequestAttributes } from '../authz/pipeline.js';
import { loadConfigFile, resolveFrom } from '../config/load.js';
import { compilePolicySet, explain, formatExplanation, formatIssues, loadPolicyPaths } from '../policy/index.js';
import type { PeerIdentity } from '../policy/types.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';

const HELP = `mesh-authz explain --config <file> --request <file|-> [options]

Explains the decision the policies make for one CheckRequest (proto3 JSON, as Envoy sends it): for each policy that
selects the destination workload, each rule and the first condition that failed.

Options:
  --config <file>     the mesh-authz config (policy paths, root namespace, path normalization, trust domain)
  --policy <path>     policy file or folder, instead of the config's policy.paths (repeatable)
  --request <file|->  the CheckRequest JSON file, or - for stdin
  --format text|json  output format (default text)

Identity: the peer is taken from attributes.source.principal when it is a valid SPIFFE ID (no certificate is
verified); no end-user token is verified, so requestPrincipals and request.auth.* never match.`;

/** SPIFFE ID syntax (spiffe/spiffe standards/SPIFFE-ID.md): lowercase trust domain, non-empty clean segments. */
const SPIFFE_ID = /^spiffe:\/\/([a-z0-9._-]+)((?:\/[A-Za-z0-9._-]+)*)$/;

/** The peer from Envoy's source.principal, when it is a well-formed SPIFFE ID; else null. */
export function peerFromPrincipal(principal: string): PeerIdentity | null {
  const m = SPIFFE_ID.exec(principal);
  if (!m || principal.length > 2048 || m[1]!.length > 255) return null;
  const segments = m[2]!.split('/').slice(1);
  if (segments.some((s) => s === '.' || s === '..')) return null;
  const k8s = segments.length === 4 && segments[0] === 'ns' && segments[2] === 'sa';
  return {
    spiffeId: principal,
    trustDomain: m[1]!,
    namespace: k8s ? segments[1]! : null,
    serviceAccount: k8s ? segments[3]! : null,
    expiresAt: Number.MAX_SAFE_INTEGER,
    credentialId: `principal:${principal}`,
  };
}

async function readRequest(source: string): Promise<unknown> {
  let text: string;
  try {
    if (source === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      text = Buffer.concat(chunks).toString('utf8');
    } else text = await readFile(source, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the request ${source}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${source}: not JSON: ${(err as Error).message}`);
  }
}

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
    const loadedConfig = loadConfigFile(values.config);
    const cfg = loadedConfig.config;
    const paths = values.policy?.length ? values.policy : cfg.policy.paths.map((p) => resolveFrom(loadedConfig, p));

    const loaded = await loadPolicyPaths(paths);
    if (loaded.issues.some((i) => i.severity === 'error')) {
      process.stderr.write(`mesh-authz explain: the policies are invalid\n${formatIssues(loaded.issues)}\n`);
      return 1;
    }
    const set = compilePolicySet(
      loaded.policies,
      {
        rootNamespace: cfg.policy.rootNamespace,
        pathNormalization: cfg.policy.pathNormalization,
        trustDomain: cfg.policy.trustDomain,
        trustDomainAliases: cfg.policy.trustDomainAliases,
        mode: cfg.policy.mode,
      },
      1,
    );

    let input: ReturnType<typeof toCheckInput>;
    try {
      input = toCheckInput(checkRequestFromJson(await readRequest(values.request)));
    } catch (err) {
      if (err instanceof RequestJsonError || err instanceof InvalidCheckRequest) {
        process.stderr.write(`mesh-authz explain: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
    const peer = peerFromPrincipal(input.source.principal);
    const attrs = toRequestAttributes(input, peer, null, cfg.server.trustedProxies);
    const e = explain(set, input.workload, attrs);
    const identity = peer
      ? `peer identity ${peer.spiffeId}, taken from source.principal (not verified here)`
      : input.source.principal
        ? `source.principal '${input.source.principal}' is not a valid SPIFFE ID: treated as no peer identity`
        : 'no source.principal: treated as a plaintext request (no peer identity)';
    if (format === 'json') {
      process.stdout.write(`${JSON.stringify({ identity, endUser: null, ...e }, null, 2)}\n`);
    } else {
      process.stdout.write(
        `identity: ${identity}; no end-user token is verified by explain\n${formatExplanation(e)}\n`,
      );
    }
    return 0;
  },
};
