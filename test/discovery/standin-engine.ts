import type { PolicyEngine } from '../../src/discovery/engine.js';
import type { PolicyEntry, PolicyProblem, PolicyRuleDoc } from '../../src/discovery/policy-model.js';
import type { CompiledPolicySet, Decision, RequestAttributes, WorkloadRef } from '../../src/policy/types.js';

/**
 * A small stand-in for the policy engine, written from the Istio reference independently of discovery's code:
 * selection by namespace/root/selector, DENY before ALLOW, principals/namespaces, ports/methods/paths with `{*}`
 * and `{**}` templates and `*` prefix/suffix. Enough for the shop's policies; the real engine replaces it.
 */

const str = (v: string, s: string): boolean =>
  v === '*'
    ? s !== ''
    : v.startsWith('*')
      ? s.endsWith(v.slice(1))
      : v.endsWith('*')
        ? s.startsWith(v.slice(0, -1))
        : v === s;

function pathMatch(v: string, path: string): boolean {
  if (!v.includes('{')) return str(v, path);
  const re = new RegExp(
    `^${v
      .split('/')
      .map((seg) => (seg === '{*}' ? '[^/]+' : seg === '{**}' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/')}$`,
  );
  return re.test(path);
}

function ruleMatches(rule: PolicyRuleDoc, w: WorkloadRef, r: RequestAttributes, policyNs: string): boolean {
  const principal = r.peer ? r.peer.spiffeId.replace(/^spiffe:\/\//, '') : '';
  const fromOk =
    rule.from === undefined ||
    rule.from.some(({ source: s }) => {
      if (s.principals && !(principal !== '' && s.principals.some((v) => str(v, principal)))) return false;
      if (s.namespaces && !(r.peer?.namespace && s.namespaces.some((v) => str(v, r.peer!.namespace!)))) return false;
      if (s.serviceAccounts) {
        const sa = r.peer?.serviceAccount ? `${r.peer.namespace}/${r.peer.serviceAccount}` : '';
        if (!s.serviceAccounts.some((v) => (v.includes('/') ? v : `${policyNs}/${v}`) === sa)) return false;
      }
      return true;
    });
  const toOk =
    rule.to === undefined ||
    rule.to.some(({ operation: o }) => {
      if (o.ports && !o.ports.includes(String(r.destinationPort))) return false;
      if (o.methods && !o.methods.includes(r.method)) return false;
      if (o.paths && !o.paths.some((v) => pathMatch(v, r.path.split('?')[0]!))) return false;
      if (o.notPaths?.some((v) => pathMatch(v, r.path.split('?')[0]!))) return false;
      return true;
    });
  void w;
  return fromOk && toOk && (rule.when === undefined || rule.when.length === 0);
}

function decision(allowed: boolean, e: PolicyEntry | null, ruleIndex: number | null): Decision {
  return {
    allowed,
    code: allowed ? (e ? 'ALLOW_MATCHED' : 'NO_ALLOW_POLICY') : e ? 'DENY_MATCHED' : 'NO_ALLOW_MATCHED',
    reason: '',
    policy: e
      ? {
          namespace: e.policy.metadata.namespace,
          name: e.policy.metadata.name,
          action: e.policy.spec.action ?? 'ALLOW',
          source: null,
        }
      : null,
    ruleIndex,
    shadow: [],
    audit: [],
  };
}

export function standInSet(policies: readonly PolicyEntry[], root = 'istio-system'): CompiledPolicySet {
  return {
    generation: 1,
    attributesFor: () => ({
      method: true,
      path: true,
      host: true,
      sourceIp: true,
      remoteIp: true,
      destinationIp: true,
      destinationPort: true,
      sni: true,
      peer: true,
      user: true,
      headers: [],
      metadata: true,
    }),
    evaluate(w, r) {
      const applied = policies.filter(
        (e) =>
          !e.dryRun &&
          (e.policy.metadata.namespace === w.namespace || e.policy.metadata.namespace === root) &&
          Object.entries(e.policy.spec.selector?.matchLabels ?? {}).every(([k, v]) => w.labels[k] === v),
      );
      for (const e of applied.filter((x) => x.policy.spec.action === 'DENY')) {
        const i = (e.policy.spec.rules ?? []).findIndex((rule) => ruleMatches(rule, w, r, e.policy.metadata.namespace));
        if (i >= 0) return decision(false, e, i);
      }
      const allows = applied.filter((x) => (x.policy.spec.action ?? 'ALLOW') === 'ALLOW');
      if (allows.length === 0) return decision(true, null, null);
      for (const e of allows) {
        const i = (e.policy.spec.rules ?? []).findIndex((rule) => ruleMatches(rule, w, r, e.policy.metadata.namespace));
        if (i >= 0) return decision(true, e, i);
      }
      return decision(false, null, null);
    },
  };
}

export const standInEngine: PolicyEngine = {
  async loadPolicyPaths() {
    return { policies: [], issues: [] };
  },
  validatePolicy(obj) {
    const problems: PolicyProblem[] = [];
    const text = JSON.stringify(obj);
    if (text.includes('""'))
      problems.push({ severity: 'error', path: 'spec', message: 'empty string', code: 'empty_value' });
    if (text.includes('spiffe://'))
      problems.push({ severity: 'error', path: 'spec', message: 'spiffe:// prefix', code: 'x' });
    return problems;
  },
  compile: (policies, options) => standInSet(policies, options.rootNamespace),
};
