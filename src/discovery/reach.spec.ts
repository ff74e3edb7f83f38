import { describe, expect, it } from 'vitest';
import type { AuthorizationPolicy } from '../policy/model.js';
import type { PolicyEntry } from './policy-model.js';
import { canReach, DEFAULT_REACH_OPTIONS, matchValue, surface } from './reach.js';
import type { FlowSource } from './types.js';

const src = (ns: string, sa: string, td = 'cluster.local'): FlowSource => ({
  spiffeId: `spiffe://${td}/ns/${ns}/sa/${sa}`,
  trustDomain: td,
  namespace: ns,
  serviceAccount: sa,
});

function entry(spec: AuthorizationPolicy['spec'], namespace = 'shop', dryRun = false): PolicyEntry {
  return {
    policy: {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'p', namespace },
      spec,
    },
    source: null,
    dryRun,
  };
}

const db = { namespace: 'shop', labels: { app: 'db' } };
const o = { ...DEFAULT_REACH_OPTIONS, trustDomain: 'prod.example', trustDomainAliases: ['old.example'] };

describe('canReach (pair-level reachability)', () => {
  it('no policy, or only dry-run ones: every caller reaches', () => {
    expect(canReach([], src('a', 'b'), db, o)).toBe(true);
    const staged = entry({ action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['x'] } }] }] }, 'shop', true);
    expect(canReach([staged], src('a', 'b'), db, o)).toBe(true);
  });

  it('ALLOW with no rules admits nobody; an identity-matching rule admits, whatever its operations', () => {
    expect(canReach([entry({ action: 'ALLOW' })], src('shop', 'api'), db, o)).toBe(false);
    const p = entry({
      action: 'ALLOW',
      rules: [
        {
          from: [{ source: { principals: ['cluster.local/ns/shop/sa/api'] } }],
          to: [{ operation: { methods: ['GET'] } }],
        },
      ],
    });
    // `cluster.local` stands for the local trust domain and its aliases.
    expect(canReach([p], src('shop', 'api', 'prod.example'), db, o)).toBe(true);
    expect(canReach([p], src('shop', 'api', 'old.example'), db, o)).toBe(true);
    expect(canReach([p], src('shop', 'api', 'other.example'), db, o)).toBe(false);
    expect(canReach([p], src('shop', 'web', 'prod.example'), db, o)).toBe(false);
  });

  it('principals are written out for the local domain and aliases as enforcement does (istiod bundle.go)', () => {
    const allow = (principal: string) =>
      entry({ action: 'ALLOW', rules: [{ from: [{ source: { principals: [principal] } }] }] });
    // `cluster.local` names the local domain and the aliases, not itself when it is neither.
    expect(canReach([allow('cluster.local/ns/shop/sa/api')], src('shop', 'api', 'cluster.local'), db, o)).toBe(false);
    // Only five parts name a trust domain: `cluster.local/ns/shop/*` is kept as written (no local caller matches).
    expect(canReach([allow('cluster.local/ns/shop/*')], src('shop', 'api', 'prod.example'), db, o)).toBe(false);
    expect(canReach([allow('cluster.local/ns/shop/*')], src('shop', 'api', 'cluster.local'), db, o)).toBe(true);
    // A glob trust domain names the listed domains it matches.
    expect(canReach([allow('prod*/ns/shop/sa/api')], src('shop', 'api', 'prod.example'), db, o)).toBe(true);
    expect(canReach([allow('prod*/ns/shop/sa/api')], src('shop', 'api', 'old.example'), db, o)).toBe(true);
    expect(canReach([allow('prod*/ns/shop/sa/api')], src('shop', 'web', 'prod.example'), db, o)).toBe(false);
    // An identity-only DENY on such a value removes the pair.
    const deny = entry({ action: 'DENY', rules: [{ from: [{ source: { principals: ['prod*/ns/shop/sa/api'] } }] }] });
    expect(canReach([deny], src('shop', 'api', 'old.example'), db, o)).toBe(false);
    expect(canReach([deny], src('shop', 'web', 'old.example'), db, o)).toBe(true);
  });

  it('selectors, namespaces and the root namespace decide which policies apply', () => {
    const other = entry({ selector: { matchLabels: { app: 'web' } }, action: 'ALLOW', rules: [] });
    expect(canReach([other], src('a', 'b'), db, o)).toBe(true);
    const root = entry({ action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['shop'] } }] }] }, 'istio-system');
    expect(canReach([root], src('a', 'b'), db, o)).toBe(false);
    expect(canReach([root], src('shop', 'b'), db, o)).toBe(true);
  });

  it('DENY removes a pair only when it denies every request from that caller', () => {
    const allowAll = entry({ action: 'ALLOW', rules: [{}] });
    const denyIdentity = entry({ action: 'DENY', rules: [{ from: [{ source: { notNamespaces: ['shop'] } }] }] });
    const denyPath = entry({
      action: 'DENY',
      rules: [{ from: [{ source: { namespaces: ['*'] } }], to: [{ operation: { paths: ['/admin'] } }] }],
    });
    expect(canReach([allowAll, denyIdentity], src('x', 'y'), db, o)).toBe(false);
    expect(canReach([allowAll, denyIdentity], src('shop', 'y'), db, o)).toBe(true);
    expect(canReach([allowAll, denyPath], src('x', 'y'), db, o)).toBe(true);
  });

  it('source.* conditions are decided; other conditions are taken as satisfiable', () => {
    const p = entry({
      action: 'ALLOW',
      rules: [
        { when: [{ key: 'source.namespace', values: ['jobs'] }] },
        { when: [{ key: 'request.headers[x-team]', values: ['a'] }], from: [{ source: { serviceAccounts: ['web'] } }] },
      ],
    });
    expect(canReach([p], src('jobs', 'batch'), db, o)).toBe(true);
    expect(canReach([p], src('shop', 'web'), db, o)).toBe(true);
    expect(canReach([p], src('shop', 'api'), db, o)).toBe(false);
  });

  it('counts the surface over identities × workloads', () => {
    const p = entry({
      selector: { matchLabels: { app: 'db' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { namespaces: ['shop'] } }] }],
    });
    const ids = [src('shop', 'api'), src('shop', 'web'), src('x', 'y')];
    const web = { namespace: 'shop', labels: { app: 'web' } };
    expect(surface([], [p], ids, [db, web], o)).toEqual({
      pairs: 6,
      before: 6,
      after: 5,
      reduction: 1,
      reductionRatio: 1 / 6,
    });
  });
});

describe('matchValue', () => {
  it.each([
    ['*', 'x', true],
    ['*', '', false],
    ['*.example', 'a.example', true],
    ['ns/*', 'ns/a', true],
    ['ns/*', 'other', false],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
  ])('%s vs %s → %s', (v, s, want) => {
    expect(matchValue(v, s)).toBe(want);
  });
});
