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

/** Five `/`-separated parts, `td/ns/<namespace>/sa/<account>` as Istio counts them (a test, not a split per value). */
const FIVE_PARTS = /^[^/]*(?:\/[^/]*){4}$/;

/**
 * A principal value as the set of principals istiod generates for it (`spiffe://` not included). Source: istio/istio
 * `pilot/pkg/security/trustdomain/bundle.go` (ReplaceTrustDomainAliases, isTrustDomainBeingEnforced,
 * replaceTrustDomains) and `util.go` (stringMatch). Only a value of five `/`-separated parts names a trust domain,
 * its first part, and not when that part is `*` alone; any other value is kept as written. When the named domain
 * is `cluster.local` (always "the local trust domain"), or equals or glob-matches (`*-td`, `td-*`) the local
 * domain or an alias, the value is written out for the local domain and every alias; a domain the value's own
 * suffix glob already covers keeps the value as written; no duplicates. Otherwise it is kept as written.
 */
export function expandPrincipal(
  value: string,
  options: Pick<ResolvedCompileOptions, 'trustDomain' | 'trustDomainAliases'>,
): string[] {
  if (!FIVE_PARTS.test(value)) return [value];
  const cut = value.indexOf('/');
  // A first part of `*` alone (Istio: "trust domain not enforced") is a suffix glob covering every domain, so the
  // loop below keeps the value as written for each of them: no case of its own.
  const td = value.slice(0, cut);
  const local = options.trustDomain;
  const aliases = options.trustDomainAliases;
  if (td !== CLUSTER_LOCAL && !domainMatches(td, local) && !aliases.some((d) => domainMatches(td, d))) {
    return [value];
  }
  const rest = value.slice(cut);
  const out: string[] = [];
  for (const d of [local, ...aliases]) {
    // The value itself where it already names `d` (one string shared by every compiled copy, not one per copy).
    const principal = d === td || suffixGlobCovers(td, d) ? value : `${d}${rest}`;
    if (!out.includes(principal)) out.push(principal);
  }
  return out;
}

/**
 * Istio's `stringMatch` for two trust domains: equal, or either one a prefix or suffix glob of the other (a listed
 * `*`, which `stringMatch` names on its own, is the suffix glob of every domain).
 */
function domainMatches(td: string, listed: string): boolean {
  return (
    td === listed ||
    prefixGlobCovers(listed, td) ||
    prefixGlobCovers(td, listed) ||
    suffixGlobCovers(listed, td) ||
    suffixGlobCovers(td, listed)
  );
}

/** `abc*` covers every text starting with `abc`. */
function prefixGlobCovers(pattern: string, text: string): boolean {
  return pattern.endsWith('*') && text.startsWith(pattern.slice(0, -1));
}

/** `*abc` covers every text ending with `abc`. */
function suffixGlobCovers(pattern: string, text: string): boolean {
  return pattern.startsWith('*') && text.endsWith(pattern.slice(1));
}
