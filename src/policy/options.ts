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

/** Five `/`-separated parts (a regular expression: `split` per principal made a 50k-rule load measurably slower). */
const FIVE_PARTS = /^[^/]*(?:\/[^/]*){4}$/;

/**
 * A principal value as the set of principals Istio generates for it (`spiffe://` not included). Istio rewrites only
 * a value of five `/`-separated parts (`td/ns/<namespace>/sa/<account>`; the parts are counted, not read) whose
 * trust domain, the first part, is the local one, an alias, or `cluster.local` (which always means "the local trust
 * domain"): it is then written out for the local trust domain and every alias, without duplicates. Any other value
 * (another trust domain, `*`, fewer or more parts) is kept as it is. Source: istio/istio
 * `pilot/pkg/security/trustdomain/bundle.go` (ReplaceTrustDomainAliases, isTrustDomainBeingEnforced,
 * getTrustDomainFromSpiffeIdentity, replaceTrustDomainInPrincipal).
 */
export function expandPrincipal(value: string, options: ResolvedCompileOptions): string[] {
  if (!FIVE_PARTS.test(value)) return [value];
  const td = value.slice(0, value.indexOf('/'));
  if (td !== CLUSTER_LOCAL && td !== options.trustDomain && !options.trustDomainAliases.includes(td)) return [value];
  const rest = value.slice(td.length);
  // The value itself when it already names the local domain: compiled matchers keep these strings, and a new copy
  // per principal is about 50 bytes a rule more on a 50k-rule set.
  const out = [td === options.trustDomain ? value : `${options.trustDomain}${rest}`];
  for (const alias of options.trustDomainAliases) {
    const principal = `${alias}${rest}`;
    if (!out.includes(principal)) out.push(principal);
  }
  return out;
}
