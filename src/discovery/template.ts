import { normalizePath, type PathNormalization, stripQuery } from '../policy/normalize.js';
import { ISTIO_DEFAULTS } from '../policy/options.js';

/**
 * Path templates: the raw `:path` of a request becomes a template an AuthorizationPolicy `paths` entry can hold,
 * with identifiers collapsed to `{*}` (exactly one non-empty segment in Istio's path-template syntax).
 *
 * Why collapse: a flow table keyed on raw paths grows with every order id and session token; a template keyed one
 * stays as small as the API surface. The output must also be a safe policy value: a segment holding `*`, `{` or
 * `}` would change its meaning in a policy (prefix/suffix match, template syntax), so such segments collapse too.
 */

/** Longest template kept; a longer path is cut to its first segments and `/{**}`. */
export const MAX_TEMPLATE_LENGTH = 256;
/** Most segments kept before the rest becomes `{**}`. */
export const MAX_SEGMENTS = 16;
const MAX_SEGMENT_LENGTH = 64;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * True when one path segment looks like an identifier rather than a fixed part of the API. One pass over the
 * characters (this runs for every segment of every recorded request, so no regex on the common path).
 */
export function isIdentifierSegment(seg: string): boolean {
  const n = seg.length;
  if (n > MAX_SEGMENT_LENGTH) return true;
  let digits = 0;
  let run = 0;
  let maxRun = 0;
  let hexLetters = 0;
  let other = 0;
  let tokenChars = 0;
  for (let i = 0; i < n; i++) {
    const c = seg.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits++;
      run++;
      if (run > maxRun) maxRun = run;
      tokenChars++;
      continue;
    }
    run = 0;
    // `*`, `{`, `}` would change a policy path's meaning; `%` hides what the segment is; `@` marks an address.
    if (c === 42 || c === 123 || c === 125 || c === 37 || c === 64) return true;
    if ((c >= 97 && c <= 102) || (c >= 65 && c <= 70)) hexLetters++;
    else other++;
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95 || c === 126 || c === 46) tokenChars++;
  }
  if (digits === 0) return false;
  // Numbers, and any segment with a run of 4+ digits (order ids, dates, invoice numbers).
  if (digits === n || maxRun >= 4) return true;
  // Hashes and hex ids: all-hex, long, or shorter but mixing digits and letters.
  if (other === 0 && (n >= 16 || (n >= 8 && hexLetters > 0))) return true;
  if (n === 36 && UUID.test(seg)) return true;
  // Opaque tokens (base64url, ULIDs, slugs with embedded ids).
  return n >= 20 && tokenChars === n;
}

/**
 * The template for a request path, learned under the mesh's path normalization (`meshConfig.pathNormalization`,
 * the `policy.pathNormalization` of the config): the path is first normalized exactly as the policy engine
 * normalizes it before matching, then identifier segments become `{*}`. So a rule holding the template matches the
 * very request it was learned from, in every mode: under BASE, `//v1/jobs/5` stays `//v1/jobs/5` for the engine,
 * and a template that merged the slashes (`/v1/jobs/{*}`) would deny it.
 *
 * A normalized path with an empty, `.` or `..` segment (kept by NONE and BASE) cannot be a template: `{*}` never
 * matches an empty segment and Envoy's template syntax has no empty literal. Such a path is kept literally (an exact-match `paths` value), which allows exactly what was seen; the
 * table's bound still applies (see {@link coarsen}). A path the engine cannot normalize at all (`%00`) is denied by
 * the engine whatever the policy says; it gets the plain template, which is only ever shown, never allowing.
 */
export function pathTemplate(
  rawPath: string,
  normalization: PathNormalization = ISTIO_DEFAULTS.pathNormalization,
): string {
  const n = normalizePath(rawPath, normalization);
  if (!n.ok) return plainTemplate(rawPath);
  const path = n.path;
  // Only NONE passes a path that is not origin-form (`*`, an absolute URI). The flows file holds `/…` paths only,
  // and no `paths` value could match it exactly anyway: recorded with the plain template (never learned as exact).
  if (!path.startsWith('/')) return plainTemplate(rawPath);
  const segs = path.slice(1).split('/');
  const inner = segs.slice(0, -1);
  const last = segs[segs.length - 1]!;
  if (inner.some((s) => s === '' || s === '.' || s === '..') || last === '.' || last === '..') return literal(path);
  const trailingSlash = last === '' && segs.length > 1;
  const t = templateOf(trailingSlash ? segs.slice(0, -1) : segs, trailingSlash);
  // `/a/{*}/` is no template Envoy takes (an empty last literal), and `/a/{*}` would not match `/a/5/`: keep the
  // exact path for the rare identifier followed by a slash.
  return trailingSlash && t.endsWith('{*}') ? literal(path) : t;
}

/** An exact path kept as is; a long one is coarsened like any other (the table bound reports it). */
function literal(path: string): string {
  return path.length > MAX_TEMPLATE_LENGTH ? coarsen(path, 1) : path;
}

function templateOf(segments: readonly string[], trailingSlash: boolean): string {
  const out = segments.map((seg) => (isIdentifierSegment(seg) ? '{*}' : seg));
  if (out.length === 0) return '/';
  if (out.length > MAX_SEGMENTS) return `/${out.slice(0, MAX_SEGMENTS - 1).join('/')}/{**}`;
  let t = `/${out.join('/')}`;
  // `/a/` and `/a` are different paths to Envoy: keep the trailing slash (see pathTemplate for `/{*}/`).
  if (trailingSlash && out[out.length - 1] !== '{*}') t += '/';
  if (t.length > MAX_TEMPLATE_LENGTH) return coarsen(t, 1);
  return t;
}

/**
 * Without normalization: removes the query and fragment, resolves `.`/`..`, merges `//` and templates the rest.
 * Only for paths the engine refuses to normalize (so they are denied whatever a policy says).
 */
function plainTemplate(rawPath: string): string {
  const path = stripQuery(rawPath).replaceAll('\\', '/');
  const out: string[] = [];
  let trailingSlash = false;
  for (const seg of path.split('/')) {
    trailingSlash = seg === '';
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return templateOf(out, trailingSlash);
}

/**
 * True when a recorded path can go into a policy's `paths` and match only what it says: a template with whole
 * `{*}`/`{**}` segments and no empty or dot segment, or an exact path with no `*` (a leading or trailing one would
 * turn it into a prefix or suffix match) and no `{`/`}` (template syntax).
 */
export function isLearnablePath(path: string): boolean {
  if (!path.startsWith('/')) return false;
  const segs = path.slice(1).split('/');
  const template = segs.some((s) => s === '{*}' || s === '{**}');
  if (!template) return !/[*{}]/.test(path);
  return segs.every(
    (s, i) =>
      s === '{*}' ||
      (s === '{**}' && i === segs.length - 1) ||
      (s !== '' && s !== '.' && s !== '..' && !/[*{}]/.test(s)) ||
      (s === '' && i === segs.length - 1),
  );
}

/**
 * A coarser template for the same path: level 1 keeps the first segment (`/a/{**}`; a one-segment path becomes
 * `/{*}`), level 2 is `/{**}` (any path). Used when one operation has too many distinct templates.
 */
export function coarsen(template: string, level: 1 | 2): string {
  if (level === 2) return '/{**}';
  // An exact path with empty or dot segments (kept by the normalization) has no valid `/first/{**}`.
  if (!template.startsWith('/') || /\/\/|\/\.\.?(\/|$)/.test(template)) return '/{**}';
  const segs = template.split('/').filter((s) => s !== '');
  if (segs.length === 0) return '/';
  if (segs.length === 1) return '/{*}';
  const first = segs[0]!;
  return first === '{**}' ? '/{**}' : `/${first}/{**}`;
}
