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
 * Removes the query and fragment, resolves `.`/`..`, merges `//` and turns identifier segments into `{*}`.
 * Dot-segment removal matches what the policy engine matches against (Istio's BASE normalization resolves them),
 * so a learned template never names a path the engine would not see.
 */
export function pathTemplate(rawPath: string): string {
  let end = rawPath.length;
  const q = rawPath.indexOf('?');
  if (q >= 0) end = q;
  const h = rawPath.indexOf('#');
  if (h >= 0 && h < end) end = h;
  const path = rawPath.slice(0, end).replaceAll('\\', '/');
  const out: string[] = [];
  let trailingSlash = false;
  for (const seg of path.split('/')) {
    trailingSlash = seg === '';
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      out.pop();
      continue;
    }
    out.push(isIdentifierSegment(seg) ? '{*}' : seg);
  }
  if (out.length === 0) return '/';
  if (out.length > MAX_SEGMENTS) return `/${out.slice(0, MAX_SEGMENTS - 1).join('/')}/{**}`;
  let t = `/${out.join('/')}`;
  // `/a/` and `/a` are different paths to Envoy; keep the trailing slash unless the last segment was collapsed.
  if (trailingSlash && out[out.length - 1] !== '{*}') t += '/';
  if (t.length > MAX_TEMPLATE_LENGTH) return coarsen(t, 1);
  return t;
}

/**
 * A coarser template for the same path: level 1 keeps the first segment (`/a/{**}`; a one-segment path becomes
 * `/{*}`), level 2 is `/{**}` (any path). Used when one operation has too many distinct templates.
 */
export function coarsen(template: string, level: 1 | 2): string {
  if (level === 2) return '/{**}';
  const segs = template.split('/').filter((s) => s !== '');
  if (segs.length === 0) return '/';
  if (segs.length === 1) return '/{*}';
  const first = segs[0]!;
  return first === '{**}' ? '/{**}' : `/${first}/{**}`;
}
