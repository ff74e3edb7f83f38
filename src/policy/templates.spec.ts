import { describe, expect, it } from 'vitest';
import { compilePathMatch, isPathTemplate, pathTemplateProblem } from './templates.js';

/**
 * Path templates both ways: which values istiod (CheckValidPathTemplate) and Envoy's uri_template parser refuse, and
 * what a list mixing plain values and templates matches. Sources: istio/istio 1.30.3
 * `pilot/pkg/security/authz/matcher/template.go`, envoyproxy/envoy
 * `source/extensions/path/uri_template_lib/uri_template_internal.cc` (see templates.ts).
 */

describe('pathTemplateProblem', () => {
  it('plain paths and well-formed templates are accepted', () => {
    for (const v of ['/a', '/a/*', '*', '*.js', '/a/{*}', '/{*}/{*}', '/a/{*}/b/{**}', '/store/{**}/cart', '/a/{*}/']) {
      expect(pathTemplateProblem(v), v).toBeNull();
    }
  });

  it('a template must start with /', () => {
    expect(pathTemplateProblem('a/{*}')).toBe('a path template must start with /');
    expect(pathTemplateProblem('/a/{*}')).toBeNull();
  });

  it('braces that are not a whole {*} or {**} segment are refused, even without a template, and unbalanced', () => {
    const operator = (seg: string) =>
      `'${seg}': {*} and {**} must be whole path segments and no other {…} operator is supported`;
    expect(pathTemplateProblem('/a/{id}')).toBe(operator('{id}'));
    expect(pathTemplateProblem('/a/{id')).toBe(operator('{id'));
    expect(pathTemplateProblem('/a/id}')).toBe(operator('id}'));
    expect(pathTemplateProblem('/a/x{*}')).toBe(operator('x{*}'));
    expect(pathTemplateProblem('{id}')).toBe('a path template must start with /');
  });

  it('{**} is the last operator; any number of {*} may come before it', () => {
    expect(pathTemplateProblem('/a/{**}/{*}')).toBe(
      "'{*}' after {**}: {**} must be the last operator (literal segments may follow it)",
    );
    expect(pathTemplateProblem('/a/{**}/{**}')).toContain("'{**}' after {**}");
    expect(pathTemplateProblem('/{*}/{*}/{**}')).toBeNull();
  });

  it('a literal next to a template must be a valid literal, and says which problem it has', () => {
    expect(pathTemplateProblem('/a//{*}')).toBe('an empty segment (//) is not allowed in a path template');
    expect(pathTemplateProblem('/a=b/{*}')).toBe(
      "segment 'a=b' is not a valid literal next to a template (allowed: letters, digits and -._~%!$&'()+,;:@)",
    );
    // Without a template, the same literal is a plain path value (matched as written).
    expect(pathTemplateProblem('/a=b/c')).toBeNull();
    expect(pathTemplateProblem('/a//c')).toBeNull();
  });
});

describe('compilePathMatch', () => {
  it('a list mixing plain values and templates matches either', () => {
    const m = compilePathMatch(['/exact', '/api/*', '/users/{*}/orders']);
    expect(m('/exact')).toBe(true);
    expect(m('/api/v1')).toBe(true);
    expect(m('/users/42/orders')).toBe(true);
    expect(m('/users/42/43/orders')).toBe(false);
    expect(m('/other')).toBe(false);
  });

  it('a template matches by its pattern, never as its literal text', () => {
    expect(isPathTemplate('/a/{*}')).toBe(true);
    const m = compilePathMatch(['/a/{*}']);
    expect(m('/a/x')).toBe(true);
    expect(m('/a/{*}')).toBe(false);
  });

  it('a plain value is matched as written, never as a template', () => {
    const m = compilePathMatch(['api', '/t/{*}']);
    expect(m('api')).toBe(true);
    expect(m('/pi')).toBe(false);
    expect(m('/t/x')).toBe(true);
  });
});
