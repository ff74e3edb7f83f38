import { type LoadedConfig, loadConfigFile, resolveFrom } from '../config/load.js';
import { MeshAuthzError } from '../errors.js';
import { ISTIO_DEFAULTS } from '../policy/options.js';
import type { EngineCompileOptions, PolicyEngine } from './engine.js';
import type { PolicyEntry } from './policy-model.js';
import type { KnownWorkload } from './report.js';

/** What `discover` and `audit` read from the config file: the current policies, the known workloads, options. */
export interface DiscoveryContext {
  readonly policies: readonly PolicyEntry[];
  readonly workloads: readonly KnownWorkload[];
  readonly compile: EngineCompileOptions;
  readonly config: LoadedConfig | null;
}

export type PolicyInputErrorCode = 'invalid_policies';

/** The current policies do not load; `message` lists `file:line` issues. */
export class PolicyInputError extends MeshAuthzError<PolicyInputErrorCode> {
  override readonly name = 'PolicyInputError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_policies', message, options);
  }
}

export const DEFAULT_COMPILE: EngineCompileOptions = {
  ...ISTIO_DEFAULTS,
  trustDomainAliases: [],
};

/** Loads the config (ConfigError on a bad file) and its policies (PolicyInputError on invalid ones). */
export async function loadDiscoveryContext(
  configFile: string | undefined,
  engine: PolicyEngine,
): Promise<DiscoveryContext> {
  if (configFile === undefined) return { policies: [], workloads: [], compile: DEFAULT_COMPILE, config: null };
  const loaded = loadConfigFile(configFile);
  const p = loaded.config.policy;
  const compile: EngineCompileOptions = {
    rootNamespace: p.rootNamespace,
    pathNormalization: p.pathNormalization,
    trustDomain: p.trustDomain,
    trustDomainAliases: p.trustDomainAliases,
  };
  const paths = p.paths.map((x) => resolveFrom(loaded, x));
  const { policies, issues } = paths.length > 0 ? await engine.loadPolicyPaths(paths) : { policies: [], issues: [] };
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) {
    throw new PolicyInputError(
      errors.map((i) => `${i.file}:${i.line}: ${i.path}: ${i.message} [${i.code}]`).join('\n'),
    );
  }
  return { policies, workloads: p.workloads, compile, config: loaded };
}
