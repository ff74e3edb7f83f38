import { describe, expect, it } from 'vitest';
import { peer, policySet, req } from '../../test/conformance/policy-fixtures.js';
import { resolveCompileOptions } from './options.js';
import { expandTrustDomains, trustDomainTest, trustDomainValueProblem } from './trust-domains.js';

/**
 * Both sides of each trust-domain rule: which values istiod accepts (CheckWildcardValues, and CheckTrustDomainValues
 * for the Source fields) and which peers each accepted form matches. Istio turns a value into an Envoy matcher on
 * the peer principal: `*` a `spiffe://` prefix, `td` a `spiffe://td/` prefix, and `a*b` the full-match regex
 * `spiffe://a[^/]*b/.*`. Sources: istio/istio 1.30.3 `pilot/pkg/security/authz/model/generator.go`
 * (srcTrustDomainGenerator), `pkg/config/security/security.go`, `pilot/pkg/security/trustdomain/bundle.go`.
 */

const options = resolveCompileOptions({ trustDomain: 'td.local', trustDomainAliases: ['old.local', 'older.local'] });
const matches = (values: string[], id: string) => trustDomainTest(values, options)(req({ peer: peer(id) }), '');

describe('trustDomainValueProblem', () => {
  it('one wildcard, alone or at either end', () => {
    for (const ok of ['td', '*', 'td*', '*td', '*.example.com']) {
      expect(trustDomainValueProblem(ok, true), ok).toBeNull();
      expect(trustDomainValueProblem(ok, false), ok).toBeNull();
    }
    for (const bad of ['**', '*td*', 't**', 'a*b*']) {
      expect(trustDomainValueProblem(bad, false), bad).toBe(`at most one wildcard is allowed: '${bad}'`);
    }
    for (const bad of ['t*d', 'a.*.b']) {
      expect(trustDomainValueProblem(bad, false), bad).toBe(`a wildcard is only allowed at the start or end: '${bad}'`);
    }
  });

  it("'/' is refused only in the Source fields", () => {
    for (const v of ['a/b', '*/a', 'td/']) {
      expect(trustDomainValueProblem(v, true), v).toBe(`a trust domain must not contain '/': '${v}'`);
      expect(trustDomainValueProblem(v, false), v).toBeNull();
    }
  });
});

describe('expandTrustDomains (ExpandTrustDomainAliases)', () => {
  it('a local domain or alias stands for all of them; other values are kept once, in order', () => {
    expect(expandTrustDomains(['td.local'], options)).toEqual(['td.local', 'old.local', 'older.local']);
    expect(expandTrustDomains(['older.local'], options)).toEqual(['td.local', 'old.local', 'older.local']);
    expect(expandTrustDomains(['x', 'old.local', 'x', 'td.local'], options)).toEqual([
      'x',
      'td.local',
      'old.local',
      'older.local',
    ]);
    expect(expandTrustDomains(['x', 'td.local.other'], options)).toEqual(['x', 'td.local.other']);
    expect(expandTrustDomains([], options)).toEqual([]);
  });
});

describe('trustDomainTest: which peers each form matches', () => {
  it('exact: the trust domain, followed by /', () => {
    expect(matches(['example.org'], 'spiffe://example.org/ns/a/sa/b')).toBe(true);
    expect(matches(['example.org'], 'spiffe://example.org.evil/ns/a/sa/b')).toBe(false);
    expect(matches(['example.org'], 'spiffe://example.org')).toBe(false);
    expect(matches(['example.org'], 'spiffe://x/example.org/a')).toBe(false);
  });

  it('aliases: a policy naming an alias matches peers of the local domain and of every alias', () => {
    expect(matches(['old.local'], 'spiffe://td.local/ns/a/sa/b')).toBe(true);
    expect(matches(['old.local'], 'spiffe://older.local/ns/a/sa/b')).toBe(true);
    expect(matches(['td.local'], 'spiffe://old.local/ns/a/sa/b')).toBe(true);
    expect(matches(['old.local'], 'spiffe://other.local/ns/a/sa/b')).toBe(false);
  });

  it('*: any SPIFFE peer, never a non-SPIFFE one, never no peer', () => {
    expect(matches(['*'], 'spiffe://a/b')).toBe(true);
    // `*` is the bare `spiffe://` prefix: it does not need a path after the trust domain.
    expect(matches(['*'], 'spiffe://a')).toBe(true);
    expect(matches(['*'], 'http://a/b')).toBe(false);
    expect(trustDomainTest(['*'], options)(req(), '')).toBe(false);
  });

  it('prefix td*: the domain starts with td, and a / follows', () => {
    expect(matches(['prod*'], 'spiffe://prod/ns/a/sa/b')).toBe(true);
    expect(matches(['prod*'], 'spiffe://prod-eu.example/ns/a/sa/b')).toBe(true);
    expect(matches(['prod*'], 'spiffe://prod-eu.example')).toBe(false);
    expect(matches(['prod*'], 'spiffe://staging/prod/x')).toBe(false);
    expect(matches(['prod*'], 'spiffe://xprod/ns/a')).toBe(false);
    expect(matches(['prod*'], 'spiffe://pr/ns/a')).toBe(false);
    expect(matches(['prod*'], 'spiffe://pro/ns/a')).toBe(false);
  });

  it('suffix *td: the domain ends with td (the wildcard never crosses a /)', () => {
    expect(matches(['*.example'], 'spiffe://eu.example/ns/a/sa/b')).toBe(true);
    expect(matches(['*.example'], 'spiffe://.example/ns/a/sa/b')).toBe(true);
    expect(matches(['*.example'], 'spiffe://eu.example.evil/ns/a')).toBe(false);
    expect(matches(['*.example'], 'spiffe://eu/x.example/a')).toBe(false);
    expect(matches(['*.example'], 'spiffe://eu.example')).toBe(false);
    // The scheme is required: the same text after another scheme does not match.
    expect(matches(['*.example'], 'spiffe:/eu.example/ns/a')).toBe(false);
    expect(matches(['*.example'], 'xxxxxxxxxa.example/ns/a')).toBe(false);
    // source.trustDomain may hold a '/' ('*/ns' is `spiffe://[^/]*/ns/.*`): the tail may start at the first '/'.
    expect(matches(['*/ns'], 'spiffe://td/ns/a/sa/b')).toBe(true);
    expect(matches(['*/ns'], 'spiffe://td/x/ns/a')).toBe(false);
  });

  it('several values: any one matches', () => {
    expect(matches(['a.org', 'b.org'], 'spiffe://b.org/x')).toBe(true);
    expect(matches(['a.org', 'b.org'], 'spiffe://c.org/x')).toBe(false);
  });

  it('decisions: DENY notTrustDomains and ALLOW trustDomains, both sides, and no peer', () => {
    const set = policySet(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: only-prod
  namespace: foo
spec:
  action: DENY
  rules:
  - from:
    - source:
        notTrustDomains: ["prod*"]
`);
    const w = { namespace: 'foo', labels: {} };
    expect(set.evaluate(w, req({ peer: peer('spiffe://prod.example/ns/a/sa/b') })).allowed).toBe(true);
    expect(set.evaluate(w, req({ peer: peer('spiffe://dev.example/ns/a/sa/b') })).allowed).toBe(false);
    // A plaintext request has no trust domain: it is none of the allowed ones, so the DENY fires.
    expect(set.evaluate(w, req()).allowed).toBe(false);
  });
});
