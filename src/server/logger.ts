/** The few log calls the lifecycle and the assembly make (a pino logger fits). */
export interface ServiceLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const SILENT_LOGGER: ServiceLogger = { info() {}, warn() {}, error() {} };
