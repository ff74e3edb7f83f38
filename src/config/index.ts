/** The config file: schema, defaults, loading with clear errors (file, line, key). */
export { ConfigError, type ConfigErrorCode } from './errors.js';
export { type LoadedConfig, loadConfigFile, parseConfigText, resolveFrom } from './load.js';
export { packageRoot, protosDir } from './paths.js';
export * from './schema.js';
