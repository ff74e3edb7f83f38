import type { ResolvedCompileOptions } from './options.js';
import type { Probe } from './types.js';

/**
 * `trustDomains` / `notTrustDomains` (Source) and the `source.trustDomain` condition. istiod checks the values
 * (non-empty, at most one `*`, only at the start or end; `trustDomains` also refuses `/`), expands a value that
 * names the local trust domain or one of its aliases to all of them, and matches the peer principal:
 * - `*`: any authenticated peer (`spiffe://` prefix);
 * - `td`: the principal starts with `spiffe://td/`;
 * - `td*`: `spiffe://td[^/]*\/.*`; `*td`: `spiffe://[^/]*td/.*` (full matches).
 * Sources: istio/istio 1.30.3 `pilot/pkg/security/authz/model/generator.go` (srcTrustDomainGenerator),
 * `pilot/pkg/security/authz/model/model.go` (MigrateTrustDomain), `pilot/pkg/security/trustdomain/bundle.go`
 * (ExpandTrustDomainAliases), `pkg/config/security/security.go` (CheckWildcardValues, CheckTrustDomainValues).
 */

const SCHEME = 'spiffe://';

/** Why a trust-domain value is refused, or null. `noSlash` for the Source fields (CheckTrustDomainValues). */
export function trustDomainValueProblem(value: string, noSlash: boolean): string | null {
  const stars = value.split('*').length - 1;
  if (stars > 1) return `at most one wildcard is allowed: '${value}'`;
  if (stars === 1 && value !== '*' && !value.startsWith('*') && !value.endsWith('*')) {
    return `a wildcard is only allowed at the start or end: '${value}'`;
  }
  if (noSlash && value.includes('/')) return `a trust domain must not contain '/': '${value}'`;
  return null;
}

/** Local trust domain and aliases stand for each other (ExpandTrustDomainAliases). */
export function expandTrustDomains(values: readonly string[], options: ResolvedCompileOptions): string[] {
  const local = [options.trustDomain, ...options.trustDomainAliases];
  const out = new Set<string>();
  for (const v of values) {
    if (local.includes(v)) for (const d of local) out.add(d);
    else out.add(v);
  }
  return [...out];
}

type IdTest = (id: string) => boolean;

function valueTest(value: string): IdTest {
  if (value === '*') return (id) => id.startsWith(SCHEME);
  if (value.endsWith('*')) {
    const head = SCHEME + value.slice(0, -1);
    // `[^/]*/.*` after the prefix: a `/` follows somewhere after it.
    return (id) => id.startsWith(head) && id.indexOf('/', head.length) >= 0;
  }
  if (value.startsWith('*')) {
    const tail = `${value.slice(1)}/`;
    return (id) => {
      if (!id.startsWith(SCHEME)) return false;
      // `[^/]*` cannot cross a `/`: the tail must start at or before the first `/` of the trust domain part.
      const firstSlash = id.indexOf('/', SCHEME.length);
      const last = firstSlash < 0 ? id.length : firstSlash;
      for (let i = SCHEME.length; i <= last; i++) if (id.startsWith(tail, i)) return true;
      return false;
    };
  }
  const head = `${SCHEME}${value}/`;
  return (id) => id.startsWith(head);
}

export function trustDomainTest(values: readonly string[], options: ResolvedCompileOptions): Probe {
  const tests = expandTrustDomains(values, options).map(valueTest);
  return (r) => {
    if (r.peer === null) return false;
    const id = r.peer.spiffeId;
    for (const t of tests) if (t(id)) return true;
    return false;
  };
}
