import { compileStringMatch, escapeRegExp, type StringTest } from './strings.js';

/**
 * Path templates (`{*}` one non-empty segment, `{**}` zero or more segments, last only), as Istio turns them into
 * Envoy's uri_template matcher. Source: istio/api authorization_policy.proto (Operation.paths);
 * Envoy `source/extensions/path/uri_template_lib/uri_template_internal.cc`.
 */

/** True when the value uses `{*}` or `{**}` (and is then matched as a template). */
export function isPathTemplate(value: string): boolean {
  return value.includes('{*}') || value.includes('{**}');
}

/** Why a path value is not a valid template, or null. Istio's webhook rejects these. */
export function pathTemplateProblem(value: string): string | null {
  if (!value.includes('{') && !value.includes('}')) return null;
  if (!value.startsWith('/')) return 'a path template must start with /';
  const segments = value.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (!seg.includes('{') && !seg.includes('}')) continue;
    if (seg !== '{*}' && seg !== '{**}') {
      return `'${seg}': {*} and {**} must be whole path segments and no other {…} operator is supported`;
    }
    if (seg === '{**}' && i !== segments.length - 1) return '{**} must be the last segment';
  }
  return null;
}

/** Compiles one template to an anchored RegExp over the normalized path. */
export function compileTemplate(value: string): RegExp {
  const segments = value.split('/').slice(1);
  let re = '';
  for (const seg of segments) {
    if (seg === '{*}') re += '/[^/]+';
    // `{**}` swallows the rest (any characters, slashes included) but needs its leading slash: `/a/{**}`
    // does not match `/a`.
    else if (seg === '{**}') re += '/.*';
    else re += `/${escapeRegExp(seg)}`;
  }
  return new RegExp(`^${re}$`, 's');
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
