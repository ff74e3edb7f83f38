import { compileStringMatch, escapeRegExp, type StringTest } from './strings.js';

/**
 * Path templates, as Istio hands them to Envoy's uri_template matcher: Istio rewrites `{*}` to `*` and `{**}` to
 * `**` (istio/istio 1.30.3 `pilot/pkg/security/authz/matcher/template.go`), and Envoy turns the template into one
 * anchored regular expression over the path without query and fragment
 * (envoyproxy/envoy `source/extensions/path/uri_template_lib/uri_template_internal.cc`, parseURLPatternSyntax and
 * toRegexPattern; `source/extensions/path/match/uri_template/uri_template_match.cc`):
 * - `{*}` is one or more RFC 3986 pchar characters, excluding `*` and `=` (so never `/`, never empty);
 * - `{**}` is zero or more of those characters or `/`, so `/a/{**}/b` matches `/a//b` (an empty run) but not
 *   `/a/b`, and `/a/{**}` matches `/a/` but not `/a`;
 * - literal segments match themselves; a trailing `/` is an empty last segment that must be present.
 * Validation (istiod's CheckValidPathTemplate, plus what Envoy's parser refuses) is {@link pathTemplateProblem}.
 */

/** Envoy's kLiteral: unreserved, `%`, the sub-delims except `*` and `=`, `:` and `@`. */
const PCHAR = "A-Za-z0-9\\-._~%!$&'()+,;:@";
const ONE_SEGMENT = `[${PCHAR}]+`;
const ANY_SEGMENTS = `[${PCHAR}/]*`;
const LITERAL = new RegExp(`^[${PCHAR}]+$`);

/** True when the value uses `{*}` or `{**}` (and is then matched as a template). */
export function isPathTemplate(value: string): boolean {
  return value.includes('{*}') || value.includes('{**}');
}

/**
 * Why a path value is not a valid template, or null. istiod refuses braces other than whole `{*}`/`{**}` segments,
 * any operator after `{**}` (literal segments after it are fine), and, in a template, any segment that is not a
 * valid literal (a literal `*`, `=`, or an empty segment between two slashes); Envoy's parser also needs the
 * leading `/`, which istiod does not check, so without it the proxy would reject the configuration.
 */
export function pathTemplateProblem(value: string): string | null {
  const template = isPathTemplate(value);
  if (!template && !value.includes('{') && !value.includes('}')) return null;
  if (!value.startsWith('/')) return 'a path template must start with /';
  const segments = value.slice(1).split('/');
  let seenAny = false;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '{*}' || seg === '{**}') {
      if (seenAny) return `'${seg}' after {**}: {**} must be the last operator (literal segments may follow it)`;
      seenAny = seg === '{**}';
      continue;
    }
    if (seg.includes('{') || seg.includes('}')) {
      return `'${seg}': {*} and {**} must be whole path segments and no other {…} operator is supported`;
    }
    // Only a trailing `/` may leave an empty segment; Envoy refuses `//` inside a template.
    if (seg === '' && i === segments.length - 1) continue;
    if (template && !LITERAL.test(seg)) {
      return seg === ''
        ? 'an empty segment (//) is not allowed in a path template'
        : `segment '${seg}' is not a valid literal next to a template (allowed: letters, digits and -._~%!$&'()+,;:@)`;
    }
  }
  return null;
}

/** Compiles one (valid) template to an anchored RegExp over the normalized path. */
export function compileTemplate(value: string): RegExp {
  const parts = value
    .slice(1)
    .split('/')
    .map((seg) => (seg === '{*}' ? ONE_SEGMENT : seg === '{**}' ? ANY_SEGMENTS : escapeRegExp(seg)));
  return new RegExp(`^/${parts.join('/')}$`);
}

/** One test for the OR of `paths` values over the normalized path. */
export function compilePathMatch(values: readonly string[]): StringTest {
  const plain = values.filter((v) => !isPathTemplate(v));
  const templates = values.filter(isPathTemplate).map(compileTemplate);
  const plainTest = compileStringMatch(plain);
  if (templates.length === 0) return plainTest;
  return (path) => {
    if (plainTest(path)) return true;
    for (const t of templates) if (t.test(path)) return true;
    return false;
  };
}
