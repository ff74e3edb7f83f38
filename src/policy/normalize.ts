/**
 * Path normalization, as Istio configures Envoy (meshConfig.pathNormalization). An ext_authz server receives Envoy's
 * raw `:path`; matching it un-normalized would let `/public/../admin` or `/public/%2e%2e/admin` slip past a rule
 * written for `/admin`. Sources: istio.io "Authorization policy normalization" reference; Envoy
 * `source/common/http/path_utility.cc` (canonicalPath, mergeSlashes, unescapeSlashes).
 */

export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export const PATH_NORMALIZATIONS: readonly PathNormalization[] = [
  'NONE',
  'BASE',
  'MERGE_SLASHES',
  'DECODE_AND_MERGE_SLASHES',
];

export type NormalizedPath =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly reason: string };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const PCT = /%([0-9a-fA-F]{2})/g;
const NUL = /%00|\0/;

/** Strips query and fragment: rules match the path only (Envoy's `url_path` matcher does the same). */
export function stripQuery(raw: string): string {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return raw.slice(0, i);
  }
  return raw;
}

/**
 * Normalizes a raw request path with one of Istio's options. `%00` is rejected in every mode (Envoy rejects it
 * before any filter runs, so no legitimate request carries it), as is a path that is not absolute.
 */
export function normalizePath(rawPath: string, mode: PathNormalization): NormalizedPath {
  const path = stripQuery(rawPath);
  if (NUL.test(path)) return { ok: false, reason: 'the path contains %00 (an encoded NUL byte)' };
  if (mode === 'NONE') return { ok: true, path };
  if (!path.startsWith('/')) return { ok: false, reason: 'the path does not start with /' };
  // Fast path: nothing to decode, no backslash, no dot segment and no double slash: already canonical.
  if (isPlain(path)) return { ok: true, path };
  return { ok: true, path: canonicalize(path, mode) };
}

/**
 * @internal The general normalization of an absolute path without NUL, never taking the fast path. Exported for the
 * property that compares it with {@link isPlain}'s shortcut (`normalize.spec.ts`).
 */
export function canonicalize(input: string, mode: Exclude<PathNormalization, 'NONE'>): string {
  let path = input;
  if (mode === 'DECODE_AND_MERGE_SLASHES') {
    // Envoy's UNESCAPE_AND_FORWARD: %2F and %5C become / and \ before the RFC 3986 normalization.
    path = path.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
  }
  path = canonicalPath(path);
  if (mode === 'MERGE_SLASHES' || mode === 'DECODE_AND_MERGE_SLASHES') path = path.replace(/\/{2,}/g, '/');
  return path;
}

/**
 * @internal The fast path's test: no `%`, no `\`, no byte outside 0x21-0x7e, no `/.` and no `//`. Such a path is
 * already canonical in every mode (the property test checks it against {@link canonicalize}).
 */
export function isPlain(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 37 /* % */ || c === 92 /* \ */ || c < 0x21 || c > 0x7e) return false;
    if (c === 46 /* . */ && path.charCodeAt(i - 1) === 47) return false;
    if (c === 47 && path.charCodeAt(i + 1) === 47) return false;
  }
  return true;
}

/**
 * BASE: decode percent-encoded unreserved characters (and upper-case the other escapes), turn `\` into `/`,
 * escape bytes that may not appear raw, then remove `.` and `..` segments (RFC 3986 section 5.2.4).
 */
function canonicalPath(input: string): string {
  let path = input.replace(PCT, (_whole, hex: string) => {
    const ch = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
  path = path.replace(/\\/g, '/');
  path = escapeUnsafe(path);
  return removeDotSegments(path);
}

function escapeUnsafe(path: string): string {
  let out = '';
  let changed = false;
  for (const ch of path) {
    const c = ch.codePointAt(0)!;
    if (c < 0x21 || c > 0x7e) {
      changed = true;
      for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    } else out += ch;
  }
  return changed ? out : path;
}

/** RFC 3986 remove_dot_segments on an absolute path; `..` never climbs above the root. */
export function removeDotSegments(path: string): string {
  const parts = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    const last = i === parts.length - 1;
    if (seg === '.') {
      if (last) out.push('');
    } else if (seg === '..') {
      out.pop();
      if (last) out.push('');
    } else out.push(seg);
  }
  return `/${out.join('/')}`;
}
