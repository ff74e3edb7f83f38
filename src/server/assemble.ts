import type { Registry } from 'prom-client';
import { CheckPipeline } from '../authz/pipeline.js';
import {
  type CheckTracer,
  type DecisionCache,
  type DecisionObserver,
  type IdentitySource,
  type PolicySource,
  staticPolicySource,
} from '../authz/seams.js';
import { combineRegistries, type WorkloadRegistry } from '../authz/workloads.js';
import type { LoadedConfig } from '../config/load.js';
import { resolveFrom } from '../config/load.js';
import { formatIssues } from '../policy/parse.js';
import { configWorkloadRegistry } from '../sources/config-registry.js';
import { createIdentityVerifier } from '../sources/identity.js';
import { createKubeApi, loadKubeConnection } from '../sources/kube/index.js';
import { createKubernetesSources, type KubernetesSources } from '../sources/kube/sources.js';
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
  /** Where the Kubernetes sources register their metrics (the server's `/metrics`). */
  readonly metricsRegistry?: Registry;
}

export interface AssembledParts {
  readonly policies: PolicySource;
  readonly identity: IdentitySource;
  /**
   * Destination workloads by address and service account, for requests Envoy sends without labels (Istio
   * `CUSTOM`): the Kubernetes registry with `kubernetes.workloads`, then `policy.workloads` from the config file.
   */
  readonly registry: WorkloadRegistry;
  /** Readiness details for `/readyz` (a stale snapshot being served, a registry not synced yet). */
  readonly readiness: () => readonly string[];
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
  // One-shot use (offline `check`) never talks to the cluster.
  const kube = watch && config.kubernetes.enabled ? assembleKubernetes(loaded, overrides) : null;
  const fromConfig = configWorkloadRegistry(config.policy.workloads);
  const registry: WorkloadRegistry = kube?.registry ? combineRegistries([kube.registry, fromConfig]) : fromConfig;
  const readiness = () => kube?.readiness() ?? [];
  if (kube?.policies && !overrides.policyPaths) {
    const policies = kube.policies;
    return {
      policies: { current: () => policies.current(), start: () => kube.start(), close: () => kube.close() },
      identity,
      registry,
      readiness,
    };
  }
  const paths = overrides.policyPaths ?? config.policy.paths.map((p) => resolveFrom(loaded, p));
  // No policy paths at all: nothing can ever load, so every check is denied UNAVAILABLE (an empty *set* would be
  // "no ALLOW policy selects the workload" = allow everything, which is not what an empty config means).
  if (paths.length === 0) return { policies: withKube(staticPolicySource(null), kube), identity, registry, readiness };
  const store = new PolicyStore({
    paths,
    compile: {
      rootNamespace: config.policy.rootNamespace,
      pathNormalization: config.policy.pathNormalization,
      trustDomain: config.policy.trustDomain,
      trustDomainAliases: config.policy.trustDomainAliases,
    },
    watch: watch && config.policy.watch,
    debounceMs: config.policy.reloadDebounceMs,
    emptyFileGraceMs: config.policy.emptyFileGraceMs,
    allowEmpty: config.policy.allowEmpty,
    onReload: (event) => {
      if (event.ok) log?.info({ generation: event.generation, policies: event.policies }, 'policies reloaded');
      else if (event.refused) {
        // Reported once per refused content by the store.
        log?.error(
          { generation: event.generation, namespaces: event.refused.namespaces, reason: event.refused.reason },
          `policy reload refused: it would drop every policy of ${event.refused.namespaces.join(', ')}; ` +
            'the last good set keeps serving (set policy.allowEmpty: true to allow removing a namespace)',
        );
      } else {
        log?.error(
          { generation: event.generation, issues: formatIssues(event.issues) },
          'policy change refused; the last good set keeps serving',
        );
      }
      overrides.onPolicyReload?.(event);
    },
  });
  return { policies: withKube(policyStoreSource(store), kube), identity, registry, readiness };
}

/** The Kubernetes sources (client, registry, policy source, snapshots) from `kubernetes:`. */
function assembleKubernetes(loaded: LoadedConfig, overrides: PartsOverrides): KubernetesSources {
  const { config } = loaded;
  const k = config.kubernetes;
  const conn = loadKubeConnection(k.kubeconfig ? resolveFrom(loaded, k.kubeconfig) : undefined);
  const log = overrides.logger;
  return createKubernetesSources(createKubeApi(conn), {
    namespaces: k.namespaces,
    resyncMs: k.resyncSeconds * 1000,
    workloads: k.workloads,
    policies: {
      enabled: k.policies.enabled,
      versions: k.policies.versions,
      events: k.policies.events,
      ...(k.policies.labelSelector ? { labelSelector: k.policies.labelSelector } : {}),
      ...(k.policies.provider ? { provider: k.policies.provider } : {}),
    },
    compile: {
      rootNamespace: config.policy.rootNamespace,
      pathNormalization: config.policy.pathNormalization,
      trustDomain: config.policy.trustDomain,
      trustDomainAliases: config.policy.trustDomainAliases,
    },
    ...(k.snapshotDir ? { snapshotDir: resolveFrom(loaded, k.snapshotDir) } : {}),
    server: conn.server,
    startupTimeoutMs: k.startupTimeoutMs,
    ...(overrides.metricsRegistry ? { metricsRegistry: overrides.metricsRegistry } : {}),
    log: (level, msg, fields) => log?.[level](fields ?? {}, msg),
  });
}

/** A policy source that also starts and stops the Kubernetes sources (the registry) with it. */
function withKube(source: PolicySource, kube: KubernetesSources | null): PolicySource {
  if (!kube) return source;
  return {
    current: () => source.current(),
    start: async () => {
      await Promise.all([source.start(), kube.start()]);
    },
    close: async () => {
      await Promise.all([source.close(), kube.close()]);
    },
  };
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
  /** The clock credentials are judged by (`check --at`). Default: the machine's. */
  readonly now?: () => number;
}

/** The Check pipeline for this config over these parts. */
export function createPipeline(
  loaded: LoadedConfig,
  parts: Pick<AssembledParts, 'policies' | 'identity'> & { readonly registry?: WorkloadRegistry },
  extras: PipelineExtras = {},
): CheckPipeline {
  const { server, policy } = loaded.config;
  return new CheckPipeline({
    policies: () => parts.policies.current(),
    identity: parts.identity,
    registry: parts.registry,
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
    ...(extras.now ? { now: extras.now } : {}),
  });
}
