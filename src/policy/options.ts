import type { PathNormalization } from './normalize.js';

/** How a policy set is compiled; every field has Istio's default. */
export interface CompileOptions {
  /** The mesh root namespace: its policies apply to every workload. Default `istio-system`. */
  readonly rootNamespace?: string;
  /** meshConfig.pathNormalization. Default `BASE`. */
  readonly pathNormalization?: PathNormalization;
  /** The local trust domain. Default `cluster.local`. */
  readonly trustDomain?: string;
  /** Other names of the local trust domain (meshConfig.trustDomainAliases). */
  readonly trustDomainAliases?: readonly string[];
}

export type ResolvedCompileOptions = Required<CompileOptions>;

/**
 * Istio's defaults, in one place: the mesh root namespace (meshConfig.rootNamespace), the local trust domain
 * (meshConfig.trustDomain) and path normalization (meshConfig.pathNormalization). The config schema, the reconciler
 * and discovery take their defaults from here.
 */
export const ISTIO_DEFAULTS = Object.freeze({
  rootNamespace: 'istio-system',
  trustDomain: 'cluster.local',
  pathNormalization: 'BASE',
} as const);

export function resolveCompileOptions(options: CompileOptions = {}): ResolvedCompileOptions {
  return {
    rootNamespace: options.rootNamespace ?? ISTIO_DEFAULTS.rootNamespace,
    pathNormalization: options.pathNormalization ?? ISTIO_DEFAULTS.pathNormalization,
    trustDomain: options.trustDomain ?? ISTIO_DEFAULTS.trustDomain,
    trustDomainAliases: options.trustDomainAliases ?? [],
  };
}

/** `cluster.local` in a principal always means the local trust domain, whatever the configured one is. */
export const CLUSTER_LOCAL = 'cluster.local';

/**
 * A principal value as the set of principals Istio generates for it (`spiffe://` not included). A value whose
 * trust domain is the local one, an alias, or `cluster.local` (which always means "the local trust domain") is
 * written out for the local trust domain and every alias; other values are kept as they are; values starting with
 * `*` do not name a trust domain. Source: istio/istio `pilot/pkg/security/trustdomain/bundle.go`
 * (ReplaceTrustDomainAliases).
 */
export function expandPrincipal(value: string, options: ResolvedCompileOptions): string[] {
  if (value.startsWith('*')) return [value];
  const cut = value.indexOf('/ns/');
  if (cut <= 0) return [value];
  const td = value.slice(0, cut);
  if (options.trustDomainAliases.length === 0) {
    // The common case (no aliases), without the arrays and the Set: one domain, one principal.
    if (td === options.trustDomain) return [value];
    return td === CLUSTER_LOCAL ? [`${options.trustDomain}${value.slice(cut)}`] : [value];
  }
  const domains = [options.trustDomain, ...options.trustDomainAliases];
  if (td !== CLUSTER_LOCAL && !domains.includes(td)) return [value];
  const rest = value.slice(cut);
  return [...new Set(domains.map((d) => `${d}${rest}`))];
}
