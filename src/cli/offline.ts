import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CheckPipeline } from '../authz/pipeline.js';
import type { WireCheckRequest } from '../authz/wire-types.js';
import { type LoadedConfig, loadConfigFile, parseConfigText, verifyPolicyPaths } from '../config/load.js';
import { MeshAuthzError } from '../errors.js';
import { type AssembledParts, assembleParts, createPipeline } from '../server/assemble.js';
import { checkRequestFromJson, RequestJsonError } from '../server/request-json.js';
import { UsageError } from './args.js';

/**
 * The set-up the offline commands (`check`, `explain`) share with `serve`: the same config, the same identity
 * verifier and the same policy store (loaded once, not watched), so an offline answer is the server's answer.
 */

/** Input the offline command cannot use (request file, policies, identity config): exit 2 with this message. */
export class OfflineInputError extends MeshAuthzError<'offline_input'> {
  override readonly name = 'OfflineInputError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('offline_input', message, options);
  }
}

/** The config file, or the defaults when none is given. */
export function loadOfflineConfig(configPath: string | undefined): LoadedConfig {
  if (configPath) return loadConfigFile(configPath);
  const file = resolve('(defaults)');
  return { config: parseConfigText('', file), file, dir: process.cwd() };
}

/** A CheckRequest written as proto3 JSON, from a file or `-` (stdin). */
export function readCheckRequest(path: string): WireCheckRequest {
  const name = path === '-' ? '(stdin)' : path;
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new OfflineInputError(`${name}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new OfflineInputError(`${name}: not valid JSON: ${(err as Error).message}`);
  }
  try {
    return checkRequestFromJson(json);
  } catch (err) {
    if (err instanceof RequestJsonError) throw new OfflineInputError(`${name}: ${err.message}`);
    throw err;
  }
}

/** Builds the identity verifier and loads the policies once. Close the result when done. */
export async function openOfflineParts(
  loaded: LoadedConfig,
  policyPaths: readonly string[] | undefined,
): Promise<AssembledParts> {
  if (policyPaths && policyPaths.length > 0) {
    const missing = policyPaths.filter((p) => !existsSync(p));
    if (missing.length > 0) throw new OfflineInputError(`--policy ${missing.join(', ')}: no such file or directory`);
  } else verifyPolicyPaths(loaded); // a ConfigError: file:line of the missing entry in policy.paths
  let parts: AssembledParts;
  try {
    parts = await assembleParts(loaded, {
      ...(policyPaths && policyPaths.length > 0 ? { policyPaths: policyPaths.map((p) => resolve(p)) } : {}),
      watch: false,
    });
  } catch (err) {
    throw new OfflineInputError(`invalid identity configuration in ${loaded.file}: ${(err as Error).message}`);
  }
  try {
    await parts.policies.start();
  } catch (err) {
    await closeParts(parts);
    throw new OfflineInputError(`cannot load policies: ${(err as Error).message}`);
  }
  return parts;
}

export async function closeParts(parts: AssembledParts): Promise<void> {
  await Promise.allSettled([parts.policies.close(), parts.identity.close()]);
}

/**
 * `--at <time>`: the instant credentials are judged at (certificate and token expiry), as an RFC 3339 / ISO 8601
 * time (`2026-01-02T03:04:05Z`). Without it, the machine's clock, as the server uses its own. The request's
 * `attributes.request.time` never decides it (it is the caller's clock).
 */
export function parseAt(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new UsageError(`--at: '${value}' is not a time (use RFC 3339, e.g. 2026-01-02T03:04:05Z)`);
  }
  return ms;
}

/**
 * The server's pipeline for one offline decision (`check`, `explain`): the config's limits, mode, identity and
 * workload registry. There is no Envoy deadline to meet offline, so slow disks and first JWKS reads get 10 s; `at`
 * (from `--at`) is the instant credentials are judged at.
 */
export function offlinePipeline(loaded: LoadedConfig, parts: AssembledParts, at: number | undefined): CheckPipeline {
  return createPipeline(loaded, parts, { defaultTimeoutMs: 10_000, ...(at !== undefined ? { now: () => at } : {}) });
}
