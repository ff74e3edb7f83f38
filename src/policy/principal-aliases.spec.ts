import { describe, expect, it } from 'vitest';
import { peer, policy, policySet, req, WORKLOAD } from '../../test/conformance/policy-fixtures.js';
import { expandPrincipal, resolveCompileOptions } from './options.js';

/**
 * How a `principals` value is written out for the local trust domain and its aliases, as istiod does before it
 * builds Envoy's RBAC filter: istio/istio `pilot/pkg/security/trustdomain/bundle.go` (ReplaceTrustDomainAliases,
 * replaceTrustDomains) and `util.go` (stringMatch, prefixMatch, suffixMatch); the cases below are those of
 * `bundle_test.go` (TestReplaceTrustDomainAliases), plus a trust domain written as a prefix glob, which follows
 * from `stringMatch`. Only a value of five `/`-separated parts names a trust domain (its first part), and only when
 * that part is not `*` alone. The part may be a glob (`*-td1`, `cluster*`): it then stands for every listed domain
 * it matches. Each listed domain gets the value with its own name, except one the glob already covers by its
 * suffix, which keeps the value as written.
 */

const expand = (value: string, trustDomain: string, aliases: string[] = []) =>
  expandPrincipal(value, resolveCompileOptions({ trustDomain, trustDomainAliases: aliases }));

describe('expandPrincipal: istiod trust-domain aliases (bundle_test.go)', () => {
  it('no aliases, the local domain: unchanged', () => {
    expect(expand('cluster.local/ns/foo/sa/bar', 'cluster.local')).toEqual(['cluster.local/ns/foo/sa/bar']);
  });

  it('values whose trust domain is `*`, or that are not five parts, are kept as written', () => {
    expect(expand('*', 'cluster.local')).toEqual(['*']);
    expect(expand('*/ns/foo/sa/bar', 'cluster.local')).toEqual(['*/ns/foo/sa/bar']);
    for (const value of ['*/ns/foo/sa/bar', '*sa/zzz', '*'])
      expect(expand(value, 'td1', ['cluster.local'])).toEqual([value]);
  });

  it('a value of an alias, or of cluster.local, is written out for the local domain and every alias', () => {
    expect(expand('td1/ns/foo/sa/bar', 'td2', ['td1'])).toEqual(['td2/ns/foo/sa/bar', 'td1/ns/foo/sa/bar']);
    expect(expand('cluster.local/ns/yyy/sa/zzz', 'td1', ['cluster.local'])).toEqual([
      'td1/ns/yyy/sa/zzz',
      'cluster.local/ns/yyy/sa/zzz',
    ]);
    expect(expand('td1/ns/yyy/sa/zzz', 'td2', ['td1', 'cluster.local'])).toEqual([
      'td2/ns/yyy/sa/zzz',
      'td1/ns/yyy/sa/zzz',
      'cluster.local/ns/yyy/sa/zzz',
    ]);
    expect(expand('some-td/ns/foo/sa/bar', 'td1', ['td2', 'some-td'])).toEqual([
      'td1/ns/foo/sa/bar',
      'td2/ns/foo/sa/bar',
      'some-td/ns/foo/sa/bar',
    ]);
  });

  it('a value of another trust domain, or of an empty one, is kept as written', () => {
    expect(expand('some-td/ns/foo/sa/bar', 'td1', ['td2'])).toEqual(['some-td/ns/foo/sa/bar']);
    expect(expand('td1/ns/some-ns/sa/some-sa', 'new-td', ['td2', 'td3'])).toEqual(['td1/ns/some-ns/sa/some-sa']);
    expect(expand('/ns/some-ns/sa/some-sa', 'new-td', ['td2', 'td3'])).toEqual(['/ns/some-ns/sa/some-sa']);
  });

  it('a suffix-glob trust domain: kept for the domains it covers, written out for the others, no duplicates', () => {
    expect(expand('*-td1/ns/foo/sa/bar', 'td2', ['foo-td1', 'cluster.local'])).toEqual([
      'td2/ns/foo/sa/bar',
      '*-td1/ns/foo/sa/bar',
      'cluster.local/ns/foo/sa/bar',
    ]);
    expect(expand('*-td/ns/some-ns/sa/some-sa', 'new-td', ['old-td'])).toEqual(['*-td/ns/some-ns/sa/some-sa']);
    // A glob that covers no listed domain names none of them: kept as written.
    expect(expand('*-zz/ns/foo/sa/bar', 'td2', ['td1'])).toEqual(['*-zz/ns/foo/sa/bar']);
  });

  it('a prefix-glob trust domain names the listed domains it covers: written out for each of them', () => {
    expect(expand('cluster*/ns/foo/sa/bad', 'cluster.local')).toEqual(['cluster.local/ns/foo/sa/bad']);
    expect(expand('td*/ns/foo/sa/bar', 'td1', ['other'])).toEqual(['td1/ns/foo/sa/bar', 'other/ns/foo/sa/bar']);
    expect(expand('zz*/ns/foo/sa/bar', 'td1', ['other'])).toEqual(['zz*/ns/foo/sa/bar']);
    // The glob must cover the domain's whole start, not only its first letter.
    expect(expand('tx*/ns/foo/sa/bar', 'td1')).toEqual(['tx*/ns/foo/sa/bar']);
  });

  it('a domain without `*` is no glob: a shared ending or start is not a match', () => {
    expect(expand('xd1/ns/foo/sa/bar', 'td1')).toEqual(['xd1/ns/foo/sa/bar']);
    expect(expand('xd1/ns/foo/sa/bar', 'td1', ['other'])).toEqual(['xd1/ns/foo/sa/bar']);
    expect(expand('td/ns/foo/sa/bar', 'td1', ['td12'])).toEqual(['td/ns/foo/sa/bar']);
    expect(expand('td1/ns/foo/sa/bar', 'xtd1')).toEqual(['td1/ns/foo/sa/bar']);
  });
});

describe('a DENY on a glob trust domain fires for the local peers it names', () => {
  const deny = (principal: string) =>
    policySet(
      policy('DENY', `  rules:\n  - from:\n    - source:\n        principals: ["${principal}"]`) +
        policy('ALLOW', '  rules:\n  - {}'),
      { trustDomain: 'cluster.local' },
    );
  const bad = req({ peer: peer('spiffe://cluster.local/ns/foo/sa/bad') });
  const good = req({ peer: peer('spiffe://cluster.local/ns/foo/sa/good') });

  it('cluster*/ns/foo/sa/bad denies cluster.local/ns/foo/sa/bad, and only it', () => {
    const set = deny('cluster*/ns/foo/sa/bad');
    expect(set.evaluate(WORKLOAD, bad).allowed).toBe(false);
    expect(set.evaluate(WORKLOAD, good).allowed).toBe(true);
  });

  it('*local/ns/foo/sa/bad denies it too (the suffix glob kept as written matches by suffix)', () => {
    const set = deny('*local/ns/foo/sa/bad');
    expect(set.evaluate(WORKLOAD, bad).allowed).toBe(false);
    expect(set.evaluate(WORKLOAD, good).allowed).toBe(true);
  });
});
