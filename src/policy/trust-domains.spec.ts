import { describe, expect, it } from 'vitest';
import { peer, req } from '../../test/conformance/policy-fixtures.js';
import { serviceAccountMatches } from './checks.js';
import { resolveCompileOptions } from './options.js';
import { expandTrustDomains, trustDomainTest, trustDomainValueProblem } from './trust-domains.js';

const options = resolveCompileOptions({ trustDomain: 'td.local', trustDomainAliases: ['old.local'] });
const matches = (value: string, id: string) => trustDomainTest([value], options)(req({ peer: peer(id) }), '');

describe('trust-domain values (istio/istio@1.30.3 pkg/config/security/security.go)', () => {
  it('allows exact, prefix, suffix and * only', () => {
    expect(trustDomainValueProblem('td', true)).toBeNull();
    expect(trustDomainValueProblem('*', true)).toBeNull();
    expect(trustDomainValueProblem('prod*', true)).toBeNull();
    expect(trustDomainValueProblem('*.example', true)).toBeNull();
    expect(trustDomainValueProblem('a*b', false)).toContain('start or end');
    expect(trustDomainValueProblem('*a*', false)).toContain('at most one');
    expect(trustDomainValueProblem('a/b', true)).toContain("'/'");
    expect(trustDomainValueProblem('a/b', false)).toBeNull();
  });

  it('expands the local trust domain and its aliases to each other, nothing else', () => {
    expect(expandTrustDomains(['old.local', 'other'], options)).toEqual(['td.local', 'old.local', 'other']);
  });

  it('matches the trust domain part of the peer principal in every form', () => {
    expect(matches('td.local', 'spiffe://td.local/ns/a/sa/b')).toBe(true);
    expect(matches('old.local', 'spiffe://td.local/ns/a/sa/b')).toBe(true);
    expect(matches('td', 'spiffe://td.local/ns/a/sa/b')).toBe(false);
    expect(matches('td*', 'spiffe://td.local/ns/a/sa/b')).toBe(true);
    expect(matches('*.local', 'spiffe://td.local/ns/a/sa/b')).toBe(true);
    expect(matches('*.local', 'spiffe://td.localx/ns/a/sa/b')).toBe(false);
    // `[^/]*` never crosses into the path: the suffix must end the trust domain.
    expect(matches('*ns', 'spiffe://td.local/ns/a/sa/b')).toBe(false);
    expect(matches('*', 'spiffe://x/ns/a/sa/b')).toBe(true);
    expect(trustDomainTest(['*'], options)(req(), '')).toBe(false);
  });
});

describe('serviceAccountMatches (spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?)', () => {
  const sa = (id: string) => serviceAccountMatches(id, '/ns/ops/', 'sa/deployer');
  it('follows the regex on both sides', () => {
    expect(sa('spiffe://a/ns/ops/sa/deployer')).toBe(true);
    expect(sa('spiffe://a/b/ns/ops/sa/deployer')).toBe(true);
    expect(sa('spiffe://a/ns/ops/x/sa/deployer/y')).toBe(true);
    expect(sa('spiffe:///ns/ops/sa/deployer')).toBe(false);
    expect(sa('spiffe://a/ns/ops/sa/deployer/')).toBe(false);
    expect(sa('spiffe://a/ns/ops/sa/deployer2')).toBe(false);
    expect(sa('spiffe://a/ns/ops/xsa/deployer')).toBe(false);
    expect(sa('spiffe://a/ns/ops/x/sa/deployer')).toBe(true);
    expect(sa('spiffe://a/ns/ops//sa/deployer')).toBe(false);
    expect(sa('http://a/ns/ops/sa/deployer')).toBe(false);
  });
});
