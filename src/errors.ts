/**
 * The one base of mesh-authz's errors (after jose's `JOSEError` and fastify's error catalogue): a stable `code` from
 * a string union of each subclass, a message that is safe to show the caller, the full cause for logs only, and
 * the exit code a command ends with when this error stops it.
 */

/** Exit codes of every command, one map: 0 success (or a decision made), 1 runtime failure, 2 bad input or usage. */
export const EXIT = Object.freeze({ ok: 0, failure: 1, badInput: 2 } as const);
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface MeshAuthzErrorOptions {
  readonly cause?: unknown;
  /** Default {@link EXIT.badInput}: most errors mean the input (config, policy, request, flag) must change. */
  readonly exitCode?: ExitCode;
}

export abstract class MeshAuthzError<Code extends string = string> extends Error {
  abstract override readonly name: string;
  readonly code: Code;
  readonly exitCode: ExitCode;

  constructor(code: Code, message: string, options: MeshAuthzErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = options.exitCode ?? EXIT.badInput;
  }
}

/** The exit code for anything a command threw: the error's own, else a runtime failure. */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof MeshAuthzError ? err.exitCode : EXIT.failure;
}
