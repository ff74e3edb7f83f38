import { MeshAuthzError } from '../errors.js';
/** Stable codes for configuration failures. */
export type ConfigErrorCode = 'config_not_found' | 'config_unreadable' | 'config_syntax' | 'config_invalid';

/** A config file that cannot be used. The message names the file, the line and the key. */
export class ConfigError extends MeshAuthzError<ConfigErrorCode> {
  override readonly name = 'ConfigError';
  constructor(
    code: ConfigErrorCode,
    message: string,
    readonly file: string,
    readonly line: number | null,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
