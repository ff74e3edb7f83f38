import { CheckPipeline } from '../authz/pipeline.js';
import {
  type CheckTracer,
  type DecisionCache,
  type DecisionObserver,
  type IdentitySource,
  type PolicySource,
  staticPolicySource,
} from '../authz/seams.js';
import type { LoadedConfig } from '../config/load.js';
import { resolveFrom } from '../config/load.js';
import { formatIssues } from '../policy/parse.js';
import { createIdentityVerifier } from '../sources/identity.js';
import { PolicyStore, type ReloadEvent } from '../sources/policy-store.js';
import type { ServiceLogger } from './logger.js';

/**
 * The one place that builds the Check path from a config: the pluggable parts (policy source, identity verifier)
 * and the pipeline over them, used by `serve`, `check` and `explain`, so an offline answer is the server's answer
 * by construction (same limits, mode, trusted proxies, identity sources).
 */

export interface PartsOverrides {
  /** `check --policy`: policy files or folders (absolute) used instead of `policy.paths`. */
  readonly policyPaths?: readonly string[];
  /** `false` for one-shot use (offline `check`): load once, watch no files. Default true (config permitting). */
  readonly watch?: boolean;
  /** Where background reload problems are reported. */
  readonly logger?: ServiceLogger;
  /** Told of every policy reload after the first load (metrics count them). */
  readonly onPolicyReload?: (event: ReloadEvent) => void;
}

export interface AssembledParts {
  readonly policies: PolicySource;
  readonly identity: IdentitySource;
}

/**
 * Builds the identity verifier (trust bundles, JWT issuers) and the policy source. Rejects when the identity
 * configuration cannot be honoured (unreadable bundle, contradictory peer sources…): the caller reports it as a
 * configuration error. Policies are only read by `policies.start()`.
 */
export async function assembleParts(loaded: LoadedConfig, overrides: PartsOverrides = {}): Promise<AssembledParts> {
  const { config } = loaded;
  const watch = overrides.watch ?? true;
  const log = overrides.logger;
  const identity = await createIdentityVerifier(config.identity, {
    resolvePath: (p) => resolveFrom(loaded, p),
    watch,
    onError: (err, where) =>
      log?.warn({ err: err.message, where }, 'identity material reload failed; the last good material keeps serving'),
  });
  const paths = overrides.policyPaths ?? config.policy.paths.map((p) => resolveFrom(loaded, p));
  // No policy paths at all: nothing can ever load, so every check is denied UNAVAILABLE (an empty *set* would be
  // "no ALLOW policy selects the workload" = allow everything, which is not what an empty config means).
  if (paths.length === 0) return { policies: staticPolicySource(null), identity };
  const store = new PolicyStore({
    paths,
    compile: {
      rootNamespace: config.policy.rootNamespace,
      pathNormalization: config.policy.pathNormalization,
      trustDomain: config.policy.trustDomain,
      trustDomainAliases: config.policy.trustDomainAliases,
    },
    watch: watch && config.policy.watch,
    onReload: (event) => {
      if (event.ok) log?.info({ generation: event.generation, policies: event.policies }, 'policies reloaded');
      else {
        log?.error(
          { generation: event.generation, issues: formatIssues(event.issues) },
          'policy change refused; the last good set keeps serving',
        );
      }
      overrides.onPolicyReload?.(event);
    },
  });
  return { policies: policyStoreSource(store), identity };
}

/** The policy engine's store as a {@link PolicySource}. `start()` rejects with PolicyLoadError (file:line issues). */
export function policyStoreSource(store: PolicyStore): PolicySource {
  return {
    current: () => store.current(),
    start: async () => {
      await store.load();
    },
    close: () => store.close(),
  };
}

/** What only the server adds to the pipeline: cache, telemetry, its own deadline. */
export interface PipelineExtras {
  readonly cache?: DecisionCache | null;
  readonly tracer?: CheckTracer;
  readonly observers?: readonly DecisionObserver[];
  /** Internal deadline for one Check when the caller sent none. Default: `server.checkTimeoutMs`. */
  readonly defaultTimeoutMs?: number;
}

/** The Check pipeline for this config over these parts. */
export function createPipeline(
  loaded: LoadedConfig,
  parts: Pick<AssembledParts, 'policies' | 'identity'>,
  extras: PipelineExtras = {},
): CheckPipeline {
  const { server, policy } = loaded.config;
  return new CheckPipeline({
    policies: () => parts.policies.current(),
    identity: parts.identity,
    mode: policy.mode,
    cache: extras.cache ?? null,
    tracer: extras.tracer,
    observers: extras.observers,
    limits: {
      maxPathBytes: server.maxPathBytes,
      maxHeaderBytes: server.maxHeaderBytes,
      maxHeaders: server.maxHeaders,
    },
    trustedProxies: server.trustedProxies,
    defaultTimeoutMs: extras.defaultTimeoutMs ?? server.checkTimeoutMs,
  });
}
