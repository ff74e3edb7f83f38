import { ConfigError } from '../config/errors.js';
import { EXIT, MeshAuthzError } from '../errors.js';
import { PolicyLoadError } from '../policy/model.js';

/**
 * The one exit-code map (src/errors.ts `EXIT`) as every command applies it:
 * - 0: success; the command did its job (a decision was made, allow or deny; no lint errors; audit passed).
 * - 1: failure at run time (a port in use, an unreachable API server), or the command's verdict is "no" (lint found
 *   errors, audit below its threshold, `reconcile --check` out of date): what CI gates on.
 * - 2: bad input or usage: unknown flag, missing argument, a config/request/policy/TLS file that is missing,
 *   unreadable or invalid, an address that is not host:port.
 */
export { EXIT };

/** The text `mesh-authz help` prints about exit codes. */
export const EXIT_CODES_HELP = `Exit codes (every command):
  0  success: a decision was made (allow or deny), no lint errors, audit passed, up to date
  1  runtime failure (port in use, API server unreachable) or a failed verdict (lint errors, audit below
     threshold, reconcile --check out of date)
  2  bad input or usage: unknown flag, missing or invalid config, request, policy or TLS file, bad address`;

/** A known error's exit code and message (no stack trace), or null for a bug. */
export function knownError(err: unknown): { code: number; message: string } | null {
  if (err instanceof ConfigError) return { code: err.exitCode, message: `invalid configuration\n${err.message}` };
  if (err instanceof MeshAuthzError) return { code: err.exitCode, message: err.message };
  if (err instanceof PolicyLoadError) return { code: EXIT.badInput, message: err.message };
  return null;
}
