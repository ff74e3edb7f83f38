import {
  actionOf,
  type LoadedPolicy,
  lineOf,
  type PolicyIssue,
  type PolicyIssueCode,
  type PolicyRule,
} from './model.js';
import type { PathNormalization } from './normalize.js';
import { ISTIO_DEFAULTS } from './options.js';
import { compilePolicySet } from './set.js';
import type { WorkloadRef } from './types.js';

/**
 * Lint: what is legal but dangerous or dead. Validation errors come from loading; these are warnings.
 * Sources: istio.io "Security best practices" (authorization policies, path normalization, hosts with ports),
 * istio/istio `pilot/pkg/security/authz/builder` (HTTP fields on TCP rules), the trust-domain docs.
 */

export interface LintOptions {
  /** Known workloads: selectors matching none of them, and workloads no ALLOW covers, are reported. */
  readonly workloads?: readonly WorkloadRef[];
  /** Where the workload list came from, for messages. */
  readonly workloadsFile?: string;
  readonly pathNormalization?: PathNormalization;
  readonly rootNamespace?: string;
}

/** Ports that carry TCP protocols (databases, brokers, SSH): Istio treats them as TCP, not HTTP. */
const TCP_PORTS = new Set([
  '22',
  '25',
  '1433',
  '1521',
  '2181',
  '3306',
  '5432',
  '6379',
  '9042',
  '9092',
  '11211',
  '27017',
]);
const HTTP_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;

export function lintPolicies(policies: readonly LoadedPolicy[], options: LintOptions = {}): PolicyIssue[] {
  const out: PolicyIssue[] = [];
  const normalization = options.pathNormalization ?? ISTIO_DEFAULTS.pathNormalization;
  for (const loaded of policies) {
    const warn = (path: string, code: PolicyIssueCode, message: string) =>
      out.push({ severity: 'warning', file: loaded.source.file, line: lineOf(loaded, path), path, message, code });
    const action = actionOf(loaded.policy);
    const rules = loaded.policy.spec.rules ?? [];
    rules.forEach((rule, i) => {
      const at = `spec.rules[${i}]`;
      if (action === 'ALLOW' && !rule.from && !rule.to && !rule.when) {
        warn(at, 'allow_all', 'this ALLOW rule is empty: it allows every request from anywhere');
      }
      lintPrincipals(rule, at, warn);
      lintServiceAccounts(rule, at, warn);
      lintTcp(rule, at, action, warn);
      lintPaths(rule, at, action, normalization, warn);
      lintHosts(rule, at, warn);
      for (let j = 0; j < i; j++) {
        if (covers(rules[j]!, rule)) {
          warn(at, 'shadowed_rule', `rule ${i} is dead: rule ${j} already matches every request it matches`);
          break;
        }
      }
    });
    if (options.workloads && options.workloads.length > 0) lintSelector(loaded, options, warn);
  }
  if (options.workloads && options.workloads.length > 0) {
    const set = compilePolicySet(policies, { rootNamespace: options.rootNamespace ?? ISTIO_DEFAULTS.rootNamespace }, 0);
    for (const w of set.uncovered(options.workloads)) {
      out.push({
        severity: 'warning',
        file: options.workloadsFile ?? '(workloads)',
        line: 0,
        path: '',
        message: `workload ${describeWorkload(w)} is not covered by any enforced ALLOW policy: it accepts every request`,
        code: 'uncovered_workload',
      });
    }
  }
  return out;
}

type Warn = (path: string, code: PolicyIssueCode, message: string) => void;

function lintPrincipals(rule: PolicyRule, at: string, warn: Warn): void {
  rule.from?.forEach((f, i) => {
    for (const field of ['principals', 'notPrincipals'] as const) {
      f.source[field]?.forEach((v, j) => {
        if (v.startsWith('spiffe://')) {
          warn(
            `${at}.from[${i}].source.${field}[${j}]`,
            'spiffe_prefix',
            `'${v}' never matches: Istio adds spiffe:// itself; write '${v.slice('spiffe://'.length)}'`,
          );
        }
      });
    }
  });
  rule.when?.forEach((c, i) => {
    if (c.key !== 'source.principal') return;
    for (const v of [...(c.values ?? []), ...(c.notValues ?? [])]) {
      if (v.startsWith('spiffe://')) warn(`${at}.when[${i}]`, 'spiffe_prefix', `'${v}' never matches: drop spiffe://`);
    }
  });
}

/**
 * serviceAccounts / notServiceAccounts / `source.serviceAccount` match in ANY trust domain: Istio builds
 * `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?` (istio/istio 1.30.3 pilot/pkg/security/authz/model/generator.go,
 * serviceAccountRegex). With federation, a peer of another trust domain that has the same namespace and service
 * account passes. A `trustDomains` list in the same source pins it.
 */
function lintServiceAccounts(rule: PolicyRule, at: string, warn: Warn): void {
  const message = (v: string) =>
    `'${v}' matches that service account in ANY trust domain (Istio matches spiffe://<any>/ns/<ns>/sa/<sa>), so a ` +
    'federated peer with the same namespace and name passes; add trustDomains to this source, or use principals';
  rule.from?.forEach((f, i) => {
    if (f.source.trustDomains?.length) return;
    for (const field of ['serviceAccounts', 'notServiceAccounts'] as const) {
      const values = f.source[field] ?? [];
      if (values.length > 0) {
        warn(`${at}.from[${i}].source.${field}`, 'service_account_any_trust_domain', message(values.join(', ')));
      }
    }
  });
  rule.when?.forEach((c, i) => {
    if (c.key !== 'source.serviceAccount') return;
    const values = [...(c.values ?? []), ...(c.notValues ?? [])];
    warn(`${at}.when[${i}]`, 'service_account_any_trust_domain', message(values.join(', ')));
  });
}

function lintTcp(rule: PolicyRule, at: string, action: string, warn: Warn): void {
  rule.to?.forEach((t, i) => {
    const tcp = (t.operation.ports ?? []).filter((p) => TCP_PORTS.has(p));
    const http = HTTP_OPERATION_FIELDS.filter((f) => t.operation[f]?.length);
    if (tcp.length === 0 || http.length === 0) return;
    const effect =
      action === 'ALLOW'
        ? 'for TCP traffic Istio drops an ALLOW rule with HTTP-only fields, so it never allows anything there'
        : 'for TCP traffic Istio ignores the HTTP-only fields, so this rule matches more than it says';
    warn(
      `${at}.to[${i}].operation`,
      'http_fields_on_tcp',
      `port(s) ${tcp.join(', ')} carry TCP, and ${http.join(', ')} are HTTP-only: ${effect}`,
    );
  });
}

function lintPaths(rule: PolicyRule, at: string, action: string, mode: PathNormalization, warn: Warn): void {
  if (mode === 'DECODE_AND_MERGE_SLASHES') return;
  rule.to?.forEach((t, i) => {
    const op = t.operation;
    const risky: string[] = [];
    if (action === 'DENY' && op.paths?.length) risky.push('paths');
    if (action === 'DENY' && op.notPaths?.length) risky.push('notPaths');
    if (action === 'ALLOW' && op.notPaths?.length) risky.push('notPaths');
    if (action === 'ALLOW' && mode === 'NONE' && op.paths?.length) risky.push('paths');
    for (const field of risky) {
      const leaves =
        mode === 'NONE'
          ? "'/public/../admin' and '%2e%2e'"
          : mode === 'BASE'
            ? "'//admin' and '/admin%2F..'"
            : "'/admin%2F..' (encoded slashes)";
      warn(
        `${at}.to[${i}].operation.${field}`,
        'path_bypass',
        `${action} with ${field} under path normalization ${mode} can be bypassed with variants such as ${leaves}; use DECODE_AND_MERGE_SLASHES or write ALLOW rules with positive paths`,
      );
    }
  });
}

function lintHosts(rule: PolicyRule, at: string, warn: Warn): void {
  rule.to?.forEach((t, i) => {
    for (const field of ['hosts', 'notHosts'] as const) {
      const hosts = t.operation[field] ?? [];
      const lower = hosts.map((h) => h.toLowerCase());
      hosts.forEach((h, j) => {
        if (h.includes(':') || h.endsWith('*') || h === '*') return;
        const l = h.toLowerCase();
        if (lower.some((o) => o.startsWith(`${l}:`))) return;
        warn(
          `${at}.to[${i}].operation.${field}[${j}]`,
          'host_without_port',
          `'${h}' does not match '${h}:<port>' (the port is not stripped); add '${h}:*' or the port variant`,
        );
      });
    }
  });
}

function lintSelector(loaded: LoadedPolicy, options: LintOptions, warn: Warn): void {
  const labels = loaded.policy.spec.selector?.matchLabels;
  if (!labels || Object.keys(labels).length === 0) return;
  const ns = loaded.policy.metadata.namespace;
  const root = ns === (options.rootNamespace ?? ISTIO_DEFAULTS.rootNamespace);
  const hit = options.workloads!.some(
    (w) => (root || w.namespace === ns) && Object.entries(labels).every(([k, v]) => w.labels[k] === v),
  );
  if (!hit)
    warn('spec.selector.matchLabels', 'selector_matches_nothing', 'the selector matches none of the known workloads');
}

export function describeWorkload(w: WorkloadRef): string {
  const labels = Object.entries(w.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${w.namespace}${labels ? `{${labels}}` : ''}`;
}

type Clause = Readonly<Record<string, readonly string[] | undefined>>;

/** True when rule `a` matches every request `b` matches (so a later `b` is dead). Conservative: false if unsure. */
export function covers(a: PolicyRule, b: PolicyRule): boolean {
  const when = a.when ?? [];
  const bWhen = (b.when ?? []).map((c) => JSON.stringify(c));
  if (!when.every((c) => bWhen.includes(JSON.stringify(c)))) return false;
  return (
    clausesCover(
      a.from?.map((f) => f.source as Clause),
      b.from?.map((f) => f.source as Clause),
    ) &&
    clausesCover(
      a.to?.map((t) => t.operation as Clause),
      b.to?.map((t) => t.operation as Clause),
    )
  );
}

function clausesCover(a: readonly Clause[] | undefined, b: readonly Clause[] | undefined): boolean {
  if (a === undefined) return true;
  if (b === undefined) return false;
  return b.every((bc) => a.some((ac) => clauseCovers(ac, bc)));
}

function clauseCovers(a: Clause, b: Clause): boolean {
  for (const [field, values] of Object.entries(a)) {
    if (!values || values.length === 0) continue;
    const other = b[field];
    if (!other || other.length === 0) return false;
    if (field.startsWith('not')) {
      if (!values.every((v) => other.includes(v))) return false;
    } else if (!values.includes('*') && !other.every((v) => values.includes(v))) return false;
  }
  return true;
}
