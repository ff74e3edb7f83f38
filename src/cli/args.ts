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

/**
 * One short flag per long name, the same in every command (`-c` is --config everywhere). parseCommandArgs adds them,
 * so a command cannot give a letter another meaning. `-h` (help) and `-V` (version) are taken by every command.
 */
export const SHORT_FLAGS: Readonly<Record<string, string>> = {
  config: 'c',
  policy: 'p',
  request: 'r',
  format: 'f',
  out: 'o',
  listen: 'l',
};

/** The options a command accepts, with the shared short flags filled in. */
export function withShortFlags<T extends OptionSpec>(options: T): T {
  const out: OptionSpec = {};
  for (const [name, spec] of Object.entries(options)) {
    const short = SHORT_FLAGS[name];
    out[name] = short ? { ...spec, short } : { ...spec };
  }
  return out as T;
}

/** Parses argv strictly (unknown flags are usage errors). */
export function parseCommandArgs<T extends OptionSpec>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: withShortFlags(options), strict: true, allowPositionals });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A subcommand: returns the process exit code (see exit-codes.ts). */
export interface Command {
  readonly summary: string;
  /** Ends with an `Examples:` section. */
  readonly help: string;
  /** Its flags (for `mesh-authz completion`); `run` parses with these. */
  readonly options: OptionSpec;
  /** Whether it takes positional arguments (files), for completion. */
  readonly positionals?: boolean;
  run(argv: string[]): Promise<number>;
}

/** Commands by name, each loaded on use. */
export type CommandTable = Readonly<Record<string, () => Promise<Command>>>;
