import { ANNOTATION_PREFIX, Annotations, SERVICE_ANNOTATIONS } from './labels.js';

/**
 * Parses the `authz.mesh-authz.io/*` annotations of a Service into a {@link ServiceIntent}. The grammar is strict on
 * purpose: a value the mesh would read differently from what the developer meant (a lowercase method, a path
 * with `..`, an inner `*`) is an error with the reason, never silently generated.
 */

export type Mode = 'enforce' | 'dry-run';
export type EnforceIn = 'mesh' | 'mesh-authz' | 'both';

/** Callers, already in Istio's terms. */
export interface Callers {
  /** `principals` values without `spiffe://` (Istio prefixes it). */
  readonly principals: readonly string[];
  /** `namespaces` values (`*` is a wildcard there). */
  readonly namespaces: readonly string[];
}

export interface ServiceIntent {
  readonly callers: Callers;
  readonly methods: readonly string[];
  readonly paths: readonly string[];
  readonly groups: readonly string[];
  readonly mode: Mode;
  readonly enforceIn: EnforceIn;
}

export interface AnnotationProblem {
  readonly code: 'invalid_annotation' | 'unknown_annotation' | 'missing_allow_from';
  readonly annotation: string | null;
  readonly message: string;
}

export type ParseResult =
  | { readonly ok: true; readonly intent: ServiceIntent }
  | { readonly ok: false; readonly problems: readonly AnnotationProblem[] };

/** True when any annotation under the prefix is present: the Service opted in. */
export function isAnnotated(annotations: Readonly<Record<string, string>> | undefined): boolean {
  return Object.keys(annotations ?? {}).some((k) => k.startsWith(ANNOTATION_PREFIX));
}

// DNS-1123 label (namespace) and subdomain (service account), as Kubernetes validates them.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const SA_PREFIX = /^[a-z0-9][-a-z0-9.]*$/;
const NS_PATTERN = /^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$/;
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SPIFFE_SEGMENT = /^[a-zA-Z0-9._-]+$/;
const METHOD = /^[A-Z]+$/;
const PATH_SEGMENT = /^[A-Za-z0-9._~!$&'()+,;=:@%-]*$/;

/** Splits a list annotation on commas and whitespace (YAML block scalars welcome). */
export function splitList(value: string): string[] {
  return value.split(/[\s,]+/).filter((v) => v.length > 0);
}

/** Parses one Service's annotations. `trustDomain` is the local trust domain principals are written in. */
export function parseAnnotations(annotations: Readonly<Record<string, string>>, trustDomain: string): ParseResult {
  const problems: AnnotationProblem[] = [];
  const bad = (annotation: string, message: string) =>
    problems.push({ code: 'invalid_annotation', annotation, message });

  for (const key of Object.keys(annotations).sort()) {
    if (key.startsWith(ANNOTATION_PREFIX) && !SERVICE_ANNOTATIONS.includes(key)) {
      problems.push({
        code: 'unknown_annotation',
        annotation: key,
        message: `unknown annotation; expected one of ${SERVICE_ANNOTATIONS.map((k) => k.slice(ANNOTATION_PREFIX.length)).join(', ')}`,
      });
    }
  }

  const principals: string[] = [];
  const namespaces: string[] = [];
  const fromValue = annotations[Annotations.allowFrom];
  if (fromValue === undefined) {
    problems.push({
      code: 'missing_allow_from',
      annotation: Annotations.allowFrom,
      message: 'is required: name the callers (ns/sa, ns/*, * or spiffe://td/path)',
    });
  } else {
    const entries = splitList(fromValue);
    if (entries.length === 0) bad(Annotations.allowFrom, 'is empty: name at least one caller');
    for (const entry of entries) {
      const r = parseCaller(entry, trustDomain);
      if (typeof r === 'string') bad(Annotations.allowFrom, `'${entry}': ${r}`);
      else if (r.kind === 'principal') principals.push(r.value);
      else namespaces.push(r.value);
    }
  }

  const methods = parseListAnnotation(annotations, Annotations.allowMethods, bad, (m) =>
    METHOD.test(m)
      ? null
      : m.toUpperCase() === m
        ? 'not an HTTP method'
        : `methods are case-sensitive; write '${m.toUpperCase()}'`,
  );
  const paths = parseListAnnotation(annotations, Annotations.allowPaths, bad, checkPath);
  const groups = parseListAnnotation(annotations, Annotations.allowGroups, bad, () => null);

  const mode = parseEnum(annotations, Annotations.mode, ['enforce', 'dry-run'] as const, 'enforce', bad);
  const enforceIn = parseEnum(annotations, Annotations.enforceIn, ['mesh', 'mesh-authz', 'both'] as const, 'mesh', bad);

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    intent: {
      callers: { principals: dedupe(principals), namespaces: dedupe(namespaces) },
      methods: dedupe(methods),
      paths: dedupe(paths),
      groups: dedupe(groups),
      mode,
      enforceIn,
    },
  };
}

type Caller = { kind: 'principal' | 'namespace'; value: string };

/** One `allow-from` entry → an Istio principal or namespace, or the reason it is rejected. */
export function parseCaller(entry: string, trustDomain: string): Caller | string {
  if (entry === '*' || entry === '*/*') return { kind: 'principal', value: '*' };
  if (entry.startsWith('spiffe://')) {
    const rest = entry.slice('spiffe://'.length);
    const slash = rest.indexOf('/');
    const td = slash < 0 ? rest : rest.slice(0, slash);
    const segments = slash < 0 ? [] : rest.slice(slash + 1).split('/');
    if (!TRUST_DOMAIN.test(td)) return 'the trust domain may only hold a-z 0-9 . - _';
    if (segments.length === 0 || segments.some((s) => !SPIFFE_SEGMENT.test(s) || s === '.' || s === '..')) {
      return 'a SPIFFE ID needs a path of non-empty segments of a-z A-Z 0-9 . - _';
    }
    return { kind: 'principal', value: rest };
  }
  const parts = entry.split('/');
  if (parts.length !== 2) return 'expected ns/serviceaccount, ns/*, * or spiffe://trust-domain/path';
  const [ns, sa] = parts as [string, string];
  if (sa === '*') {
    if (!NS_PATTERN.test(ns) || ns.length > 63) return `'${ns}' is not a namespace name (a-z 0-9 -, * as wildcard)`;
    return { kind: 'namespace', value: ns };
  }
  const saPrefix = sa.endsWith('*') ? sa.slice(0, -1) : sa;
  if (saPrefix.includes('*')) return "a '*' in a service account is only allowed at the end (prefix match)";
  const saOk = sa.endsWith('*') ? SA_PREFIX.test(saPrefix) : DNS_SUBDOMAIN.test(saPrefix);
  if (saPrefix.length > 0 && (!saOk || saPrefix.length > 253)) {
    return `'${sa}' is not a service account name (a-z 0-9 - .)`;
  }
  if (saPrefix.length === 0) return 'service account is empty';
  if (ns === '*') {
    // Istio reads a leading '*' as a suffix match, so '*/sa/<sa>' matches that service account in any namespace;
    // a trailing '*' as well would be read literally, hence the rejection.
    if (sa.endsWith('*')) return "'*/<prefix>*' cannot be expressed in Istio (one wildcard per value)";
    return { kind: 'principal', value: `*/sa/${sa}` };
  }
  if (ns.includes('*')) return "a namespace wildcard needs '/*' (any service account): write 'team-*/*'";
  if (!DNS_LABEL.test(ns) || ns.length > 63) return `'${ns}' is not a namespace name (a-z 0-9 -)`;
  return { kind: 'principal', value: `${trustDomain}/ns/${ns}/sa/${sa}` };
}

/** Checks an Istio `paths` value; returns the reason it is rejected, or null. */
export function checkPath(path: string): string | null {
  if (path === '*') return null;
  if (path.startsWith('*')) return PATH_SEGMENT.test(path.slice(1).replaceAll('/', '')) ? null : 'invalid characters';
  if (!path.startsWith('/')) return "a path starts with '/' (or is '*', or '*suffix')";
  if (/[?#]/.test(path)) return 'a path never includes the query or fragment (Istio strips them before matching)';
  const body = path.endsWith('*') && !path.endsWith('{*}') && !path.endsWith('{**}') ? path.slice(0, -1) : path;
  const segments = body.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '{*}' || s === '{**}') {
      if (s === '{**}' && i !== segments.length - 1) return "'{**}' must be the last segment";
      if (body !== path) return "a template cannot be combined with a trailing '*'";
      continue;
    }
    if (s.includes('{') || s.includes('}')) return "'{*}' and '{**}' must be whole segments";
    if (s.includes('*')) return "'*' is only a wildcard at the start or end of a path";
    if (s === '.' || s === '..') return "'.' and '..' segments never match (Istio normalizes them away)";
    if (s === '' && i < segments.length - 1) return "'//' never matches a normalized path";
    if (!PATH_SEGMENT.test(s)) return `invalid characters in segment '${s}'`;
  }
  return null;
}

function parseListAnnotation(
  annotations: Readonly<Record<string, string>>,
  key: string,
  bad: (annotation: string, message: string) => void,
  check: (v: string) => string | null,
): string[] {
  const value = annotations[key];
  if (value === undefined) return [];
  const items = splitList(value);
  if (items.length === 0) bad(key, 'is empty; remove it or list at least one value');
  for (const item of items) {
    const reason = check(item);
    if (reason !== null) bad(key, `'${item}': ${reason}`);
  }
  return items;
}

function parseEnum<T extends string>(
  annotations: Readonly<Record<string, string>>,
  key: string,
  allowed: readonly T[],
  fallback: T,
  bad: (annotation: string, message: string) => void,
): T {
  const value = annotations[key];
  if (value === undefined) return fallback;
  const v = value.trim();
  if ((allowed as readonly string[]).includes(v)) return v as T;
  bad(key, `'${value}': expected one of ${allowed.join(', ')}`);
  return fallback;
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}
