import { parseArgs } from 'node:util';
import { MeshAuthzError } from '../errors.js';

/** A usage error: the command prints it with the command's help and exits 2. */
export class UsageError extends MeshAuthzError<'usage'> {
  override readonly name = 'UsageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('usage', message, options);
  }
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Parses argv strictly (unknown flags are usage errors). */
export function parseCommandArgs<T extends OptionSpec>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A subcommand: returns the process exit code. */
export interface Command {
  readonly summary: string;
  readonly help: string;
  run(argv: string[]): Promise<number>;
}
