import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import { expandPrincipal, ISTIO_DEFAULTS, resolveCompileOptions } from './options.js';

/**
 * Compile options and principal expansion (istio/istio `pilot/pkg/security/trustdomain/bundle.go`,
 * ReplaceTrustDomainAliases): a principal of the local trust domain, an alias or `cluster.local` stands for the
 * local domain and every alias; a principal of any other domain, or one not in the Kubernetes form, stands only for
 * itself. Each rule both ways, through decisions where it decides one.
 */

const allowPrincipal = (value: string) =>
  policy('ALLOW', `  rules:\n  - from:\n    - source:\n        principals: ["${value}"]`);
const allowed = (yaml: string, spiffeId: string, options = {}) =>
  policySet(yaml, options).evaluate(WORKLOAD, req({ peer: peer(spiffeId) })).allowed;

describe('resolveCompileOptions', () => {
  it('keeps every configured value and fills only what is missing with Istio defaults', () => {
    expect(resolveCompileOptions({})).toEqual({ ...ISTIO_DEFAULTS, trustDomainAliases: [] });
    expect(
      resolveCompileOptions({
        rootNamespace: 'mesh-root',
        pathNormalization: 'MERGE_SLASHES',
        trustDomain: 'prod.example',
        trustDomainAliases: ['old.example'],
      }),
    ).toEqual({
      rootNamespace: 'mesh-root',
      pathNormalization: 'MERGE_SLASHES',
      trustDomain: 'prod.example',
      trustDomainAliases: ['old.example'],
    });
  });

  it('a configured root namespace is the one whose policies apply to every workload', () => {
    const deny = policy('DENY', '  rules:\n  - {}', { namespace: 'mesh-root', selector: false });
    const set = policySet(deny, { rootNamespace: 'mesh-root' });
    expect(set.evaluate(WORKLOAD, req()).allowed).toBe(false);
    // Under the default root namespace the same policy is just mesh-root's own.
    expect(policySet(deny).evaluate(WORKLOAD, req()).allowed).toBe(true);
  });
});

describe('expandPrincipal without aliases', () => {
  const options = resolveCompileOptions({ trustDomain: 'prod.example' });

  it('a principal of another trust domain stands for itself: it matches that peer only', () => {
    expect(expandPrincipal('other.org/ns/a/sa/b', options)).toEqual(['other.org/ns/a/sa/b']);
    const yaml = allowPrincipal('other.org/ns/a/sa/b');
    expect(allowed(yaml, 'spiffe://other.org/ns/a/sa/b', { trustDomain: 'prod.example' })).toBe(true);
    expect(allowed(yaml, 'spiffe://prod.example/ns/a/sa/b', { trustDomain: 'prod.example' })).toBe(false);
  });

  it('cluster.local means the local trust domain', () => {
    expect(expandPrincipal('cluster.local/ns/a/sa/b', options)).toEqual(['prod.example/ns/a/sa/b']);
    const yaml = allowPrincipal('cluster.local/ns/a/sa/b');
    expect(allowed(yaml, 'spiffe://prod.example/ns/a/sa/b', { trustDomain: 'prod.example' })).toBe(true);
    expect(allowed(yaml, 'spiffe://cluster.local/ns/a/sa/b', { trustDomain: 'prod.example' })).toBe(false);
  });

  it('a principal not in the Kubernetes form, or a wildcard, stands for itself', () => {
    expect(expandPrincipal('example.org/workload/api', options)).toEqual(['example.org/workload/api']);
    expect(expandPrincipal('*/ns/a/sa/b', options)).toEqual(['*/ns/a/sa/b']);
    expect(expandPrincipal('/ns/a/sa/b', options)).toEqual(['/ns/a/sa/b']);
    // Without `/ns/` nothing is a trust domain, even text that starts like one.
    expect(expandPrincipal('cluster.localx', options)).toEqual(['cluster.localx']);
    expect(expandPrincipal('prod.examplex', options)).toEqual(['prod.examplex']);
    const yaml = allowPrincipal('example.org/workload/api');
    expect(allowed(yaml, 'spiffe://example.org/workload/api')).toBe(true);
    expect(allowed(yaml, 'spiffe://example.org/workload/other')).toBe(false);
  });
});

describe("expandPrincipal: only Istio's five-part form names a trust domain", () => {
  // istio/istio pilot/pkg/security/trustdomain/bundle.go: getTrustDomainFromSpiffeIdentity and
  // replaceTrustDomainInPrincipal split the value at `/` and rewrite only when there are exactly five parts.
  const config = { trustDomain: 'prod.example' };
  const options = resolveCompileOptions(config);

  it('a cluster.local value of fewer or more parts stands for itself, so it never lets a local peer in', () => {
    expect(expandPrincipal('cluster.local/ns/a/*', options)).toEqual(['cluster.local/ns/a/*']);
    expect(expandPrincipal('cluster.local/ns/a', options)).toEqual(['cluster.local/ns/a']);
    expect(expandPrincipal('cluster.local/ns/a/sa/b/c', options)).toEqual(['cluster.local/ns/a/sa/b/c']);
    const yaml = allowPrincipal('cluster.local/ns/a/*');
    expect(allowed(yaml, 'spiffe://prod.example/ns/a/sa/b', config)).toBe(false);
    expect(allowed(yaml, 'spiffe://cluster.local/ns/a/sa/b', config)).toBe(true);
  });

  it('a cluster.local value of five parts is rewritten whatever its parts say, so its DENY fires locally', () => {
    expect(expandPrincipal('cluster.local/team/a/sa/b', options)).toEqual(['prod.example/team/a/sa/b']);
    expect(expandPrincipal('cluster.local/ns/a/sa/*', options)).toEqual(['prod.example/ns/a/sa/*']);
    const deny = policy(
      'DENY',
      '  rules:\n  - from:\n    - source:\n        principals: ["cluster.local/team/a/sa/b"]',
    );
    const set = policySet(deny, config);
    expect(set.evaluate(WORKLOAD, req({ peer: peer('spiffe://prod.example/team/a/sa/b') })).allowed).toBe(false);
    expect(set.evaluate(WORKLOAD, req({ peer: peer('spiffe://prod.example/team/a/sa/c') })).allowed).toBe(true);
  });
});

describe('expandPrincipal with trust domain aliases', () => {
  const config = { trustDomain: 'prod.example', trustDomainAliases: ['old.example'] };
  const options = resolveCompileOptions(config);

  it('a local or alias principal stands for the local domain and every alias', () => {
    expect(expandPrincipal('old.example/ns/a/sa/b', options)).toEqual([
      'prod.example/ns/a/sa/b',
      'old.example/ns/a/sa/b',
    ]);
    expect(expandPrincipal('cluster.local/ns/a/sa/b', options)).toEqual([
      'prod.example/ns/a/sa/b',
      'old.example/ns/a/sa/b',
    ]);
    const yaml = allowPrincipal('prod.example/ns/a/sa/b');
    expect(allowed(yaml, 'spiffe://old.example/ns/a/sa/b', config)).toBe(true);
    expect(allowed(yaml, 'spiffe://other.org/ns/a/sa/b', config)).toBe(false);
  });

  it('writes each principal once, whatever the aliases repeat', () => {
    const repeated = resolveCompileOptions({
      trustDomain: 'prod.example',
      trustDomainAliases: ['old.example', 'prod.example', 'old.example'],
    });
    expect(expandPrincipal('cluster.local/ns/a/sa/b', repeated)).toEqual([
      'prod.example/ns/a/sa/b',
      'old.example/ns/a/sa/b',
    ]);
  });

  it('a principal of another trust domain is not rewritten to the local ones', () => {
    expect(expandPrincipal('other.org/ns/a/sa/b', options)).toEqual(['other.org/ns/a/sa/b']);
    expect(expandPrincipal('cluster.localx', options)).toEqual(['cluster.localx']);
    const yaml = allowPrincipal('other.org/ns/a/sa/b');
    expect(allowed(yaml, 'spiffe://other.org/ns/a/sa/b', config)).toBe(true);
    // Rewriting it would let the local service account of the same name in.
    expect(allowed(yaml, 'spiffe://prod.example/ns/a/sa/b', config)).toBe(false);
  });
});
