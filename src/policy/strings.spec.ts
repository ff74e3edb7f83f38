import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyRuns } from '../../test/support/property-runs.js';
import {
  compileNamespaceMatch,
  compileStringMatch,
  compileWildcardMatch,
  containsGlob,
  escapeRegExp,
  matchesGlob,
} from './strings.js';

describe('string matching', () => {
  it('follows Istio forms: present, suffix (leading * wins), prefix, exact; inner * literal', () => {
    const m = compileStringMatch(['*abc*', 'pre*', 'exact', 'a*b']);
    expect(m('xxabc*')).toBe(true);
    expect(m('abcx')).toBe(false);
    expect(m('prefix')).toBe(true);
    expect(m('exact')).toBe(true);
    expect(m('axb')).toBe(false);
    expect(m('a*b')).toBe(true);
    expect(compileStringMatch(['*'])('')).toBe(false);
    expect(compileStringMatch(['Host.com'], { ignoreCase: true })('hOST.COM')).toBe(true);
  });

  it('namespaces are Istio regex .*/ns/<v>/.* with * as a wildcard', () => {
    const m = compileNamespaceMatch(['team-*', 'x*z']);
    expect(m('spiffe://td/ns/team-a/sa/s')).toBe(true);
    expect(m('spiffe://td/ns/team/sa/s')).toBe(false);
    expect(m('spiffe://td/ns/xyz/sa/s')).toBe(true);
    expect(m('spiffe://td/ns/x/a/z/sa/s')).toBe(true);
    expect(compileNamespaceMatch(['a'])('spiffe://td/ns/ab/sa/s')).toBe(false);
  });

  it('globs agree with the equivalent regular expression', () => {
    const texts = ['', 'a', 'ab', 'aab', 'abab', 'ba', 'abc', 'a/b/c', 'cab'];
    const patterns = ['a*', '*b', 'a*b', '*a*b*', 'ab', '*', 'a**c', 'b*a'];
    for (const p of patterns) {
      const parts = p.split('*');
      const anchored = new RegExp(`^${p.split('*').join('.*')}$`, 's');
      const unanchored = new RegExp(p.split('*').join('.*'), 's');
      for (const t of texts) {
        expect(matchesGlob(t, parts), `${p} ~ ${t}`).toBe(anchored.test(t));
        expect(containsGlob(t, parts), `${p} in ${t}`).toBe(unanchored.test(t));
      }
    }
    expect(compileWildcardMatch(['*.local', 'prod-*-td'])('prod-eu-td')).toBe(true);
  });
});

// Istio's forms: istio/istio pilot/pkg/security/authz/matcher/string.go (StringMatcherWithPrefix): `*` alone is
// "present" (any non-empty value), a leading `*` a suffix match, a trailing `*` a prefix match, else exact.
describe('string matching: each form, both sides', () => {
  it('exact is case-sensitive and whole-string unless ignoreCase', () => {
    const one = compileStringMatch(['Abc']);
    expect(one('Abc')).toBe(true);
    expect(one('abc')).toBe(false);
    expect(one('Abcd')).toBe(false);
    expect(one('xAbc')).toBe(false);
    expect(one('')).toBe(false);
    const two = compileStringMatch(['Abc', 'Def']);
    expect(two('Def')).toBe(true);
    expect(two('def')).toBe(false);
    expect(two('Ab')).toBe(false);
    const folded = compileStringMatch(['Abc', 'DEF'], { ignoreCase: true });
    expect(folded('aBC')).toBe(true);
    expect(folded('def')).toBe(true);
    expect(folded('abcd')).toBe(false);
  });

  it('prefix `abc*` matches abc itself and longer, never a shorter or different start', () => {
    const m = compileStringMatch(['pre*']);
    expect(m('pre')).toBe(true);
    expect(m('prefix')).toBe(true);
    expect(m('pr')).toBe(false);
    expect(m('xpre')).toBe(false);
    expect(m('')).toBe(false);
    const folded = compileStringMatch(['API.*'], { ignoreCase: true });
    expect(folded('api.Example.com')).toBe(true);
    expect(folded('web.api.com')).toBe(false);
  });

  it('suffix `*abc` matches abc itself and longer, never a different end', () => {
    const m = compileStringMatch(['*.com']);
    expect(m('.com')).toBe(true);
    expect(m('a.com')).toBe(true);
    expect(m('a.comx')).toBe(false);
    expect(m('com')).toBe(false);
    expect(m('')).toBe(false);
    const folded = compileStringMatch(['*.COM'], { ignoreCase: true });
    expect(folded('A.Com')).toBe(true);
    expect(folded('a.org')).toBe(false);
  });

  it('`*` alone is any non-empty value, also next to other values; `**` is a suffix of a literal *', () => {
    const m = compileStringMatch(['*', 'x']);
    expect(m('anything')).toBe(true);
    expect(m('')).toBe(false);
    const star = compileStringMatch(['**']);
    expect(star('a*')).toBe(true);
    expect(star('a')).toBe(false);
  });

  it('mixed lists are the OR of their forms; a single exact value next to a prefix still checks both', () => {
    const m = compileStringMatch(['exact', 'b*']);
    expect(m('exact')).toBe(true);
    expect(m('bx')).toBe(true);
    expect(m('exactly')).toBe(false);
    expect(m('ab')).toBe(false);
    const s = compileStringMatch(['exact', '*z']);
    expect(s('az')).toBe(true);
    expect(s('za')).toBe(false);
    expect(s('exact')).toBe(true);
  });

  it('an empty list matches nothing, not even the empty string', () => {
    expect(compileStringMatch([])('')).toBe(false);
    expect(compileStringMatch([])('a')).toBe(false);
  });

  it('the prefix option applies to exact and prefix values, not to suffixes', () => {
    const m = compileStringMatch(['td/ns/a/sa/b', 'td/ns/p/*', '*/sa/x'], { prefix: 'spiffe://' });
    expect(m('spiffe://td/ns/a/sa/b')).toBe(true);
    expect(m('td/ns/a/sa/b')).toBe(false);
    expect(m('spiffe://td/ns/p/sa/y')).toBe(true);
    expect(m('td/ns/p/sa/y')).toBe(false);
    expect(m('other/sa/x')).toBe(true);
    const single = compileStringMatch(['td/ns/a/sa/b'], { prefix: 'spiffe://' });
    expect(single('spiffe://td/ns/a/sa/b')).toBe(true);
    expect(single('td/ns/a/sa/b')).toBe(false);
  });

  it('compiled tests are shared only between identical inputs (values, prefix, case option)', () => {
    expect(compileStringMatch(['same'], { prefix: 'p:' })('p:same')).toBe(true);
    expect(compileStringMatch(['same'])('p:same')).toBe(false);
    expect(compileStringMatch(['same'], { prefix: 'q:' })('q:same')).toBe(true);
    expect(compileStringMatch(['same'], { prefix: 'q:' })('p:same')).toBe(false);
    expect(compileStringMatch(['same'])('same')).toBe(true);
    expect(compileStringMatch(['Case'], { ignoreCase: true })('case')).toBe(true);
    expect(compileStringMatch(['Case'])('case')).toBe(false);
    expect(compileStringMatch(['a', 'b'])('a')).toBe(true);
    expect(compileStringMatch(['ab'])('a')).toBe(false);
    expect(compileStringMatch(['ab'])('ab')).toBe(true);
    expect(compileStringMatch(['a', 'b'])('ab')).toBe(false);
  });
});

describe('namespaces and trust domains: both sides', () => {
  it('a literal namespace is a whole path segment, a wildcard one a glob inside /ns/…/', () => {
    const m = compileNamespaceMatch(['prod']);
    expect(m('spiffe://td/ns/prod/sa/s')).toBe(true);
    expect(m('spiffe://td/ns/production/sa/s')).toBe(false);
    expect(m('spiffe://td/ns/xprod/sa/s')).toBe(false);
    expect(m('spiffe://td/sa/prod')).toBe(false);
    const g = compileNamespaceMatch(['*-prod']);
    expect(g('spiffe://td/ns/eu-prod/sa/s')).toBe(true);
    expect(g('spiffe://td/ns/eu-dev/sa/s')).toBe(false);
    expect(compileNamespaceMatch([])('spiffe://td/ns/a/sa/s')).toBe(false);
  });

  it('trust domains: `*` is any non-empty value, exact is whole, an inner `*` is an anchored glob', () => {
    const any = compileWildcardMatch(['*']);
    expect(any('td')).toBe(true);
    expect(any('')).toBe(false);
    const m = compileWildcardMatch(['cluster.local', 'prod-*-td']);
    expect(m('cluster.local')).toBe(true);
    expect(m('cluster.localx')).toBe(false);
    expect(m('prod-eu-td')).toBe(true);
    expect(m('xprod-eu-td')).toBe(false);
    expect(m('prod-eu-tdx')).toBe(false);
    expect(m('')).toBe(false);
    expect(compileWildcardMatch([])('td')).toBe(false);
  });

  it('globs never let the first and last parts overlap, and parts match left to right', () => {
    expect(matchesGlob('aba', ['ab', 'ba'])).toBe(false);
    expect(matchesGlob('abba', ['ab', 'ba'])).toBe(true);
    expect(matchesGlob('abxba', ['ab', 'ba'])).toBe(true);
    expect(matchesGlob('abc', ['a', 'b', 'c'])).toBe(true);
    expect(matchesGlob('acb', ['a', 'b', 'c'])).toBe(false);
    expect(matchesGlob('axbyc', ['a', 'b', 'c'])).toBe(true);
    expect(matchesGlob('ac', ['a', 'b', 'c'])).toBe(false);
    // A middle part is searched only between the first and the last part, never inside them.
    expect(matchesGlob('ac', ['a', 'c', 'c'])).toBe(false);
    expect(matchesGlob('abc', ['a', 'c', 'c'])).toBe(false);
    expect(matchesGlob('acxc', ['a', 'c', 'c'])).toBe(true);
    expect(compileWildcardMatch(['td-*-x*-x'])('td-x')).toBe(false);
    expect(compileWildcardMatch(['td-*-x*-x'])('td-a-x-x')).toBe(true);
    expect(containsGlob('a', ['a', 'a'])).toBe(false);
    expect(containsGlob('aa', ['a', 'a'])).toBe(true);
    expect(containsGlob('abab', ['ab', 'ab'])).toBe(true);
    expect(containsGlob('aba', ['ab', 'ab'])).toBe(false);
    expect(containsGlob('xa', ['a'])).toBe(true);
    expect(containsGlob('a', ['a'])).toBe(true);
    expect(containsGlob('b', ['a'])).toBe(false);
  });

  it('escapeRegExp makes every RegExp metacharacter literal', () => {
    const special = 'a.b*c+d?e^f$g{h}i(j)k|l[m]n\\o/p';
    const re = new RegExp(`^${escapeRegExp(special)}$`);
    expect(re.test(special)).toBe(true);
    expect(re.test(special.replace('.', 'x'))).toBe(false);
    expect(re.test('abcdefghijklmnop')).toBe(false);
    expect(escapeRegExp('plain-text_1')).toBe('plain-text_1');
  });
});

describe('string matching: the shared compile and the fast paths', () => {
  it('the same inputs get the same compiled test, also after other lists were compiled (the claim-probe memo keys on it)', () => {
    const a = compileStringMatch(['shared-a', 'shared-b*']);
    const b = compileStringMatch(['shared-c']);
    expect(compileStringMatch(['shared-a', 'shared-b*'])).toBe(a);
    expect(compileStringMatch(['shared-c'])).toBe(b);
    expect(a).not.toBe(b);
    expect(compileStringMatch(['shared-c'], { prefix: 'p:' })).not.toBe(b);
    expect(compileStringMatch(['shared-c'], { ignoreCase: true })).not.toBe(b);
  });

  it('lists that only join to the same text never share a test (fail closed: no value borrows another list)', () => {
    expect(compileStringMatch(['join-a', 'join-b'])('join-a')).toBe(true);
    expect(compileStringMatch(['join-a\u0000join-b'])('join-a')).toBe(false);
    expect(compileStringMatch(['join-a\u0000join-b'])('join-a\u0000join-b')).toBe(true);
    expect(compileStringMatch([])('')).toBe(false);
    expect(compileStringMatch([''])('')).toBe(true);
    expect(compileStringMatch(['x'], { prefix: 'p\u0001' })('p\u0001x')).toBe(true);
    expect(compileStringMatch(['\u0001x'], { prefix: 'p' })('p\u0001x')).toBe(true);
    expect(compileStringMatch(['\u0001x'], { prefix: 'p' })('px')).toBe(false);
  });

  // Istio's forms written independently of compileStringMatch (no Set, no fast path): one value at a time.
  const reference = (values: readonly string[], s: string, pre = '', ignoreCase = false): boolean => {
    const text = ignoreCase ? s.toLowerCase() : s;
    return values.some((raw) => {
      const v = ignoreCase ? raw.toLowerCase() : raw;
      if (v === '*') return text.length > 0;
      if (v.startsWith('*')) return text.endsWith(v.slice(1));
      if (v.endsWith('*')) return text.startsWith(pre + v.slice(0, -1));
      return text === pre + v;
    });
  };
  const input = fc.array(fc.constantFrom('a', 'b', 'A', '*', 'p:'), { maxLength: 4 }).map((p) => p.join(''));
  // The validator refuses empty values (validate-rules.ts), so values are non-empty; inputs may be empty.
  const value = input.filter((v) => v !== '');

  it('every list (exact-only fast paths included) answers what the forms say, on random values and inputs', () => {
    fc.assert(
      fc.property(
        fc.array(value, { maxLength: 3 }),
        fc.array(input, { minLength: 1, maxLength: 6 }),
        fc.constantFrom('', 'p:'),
        fc.boolean(),
        (values, inputs, prefix, ignoreCase) => {
          const m = compileStringMatch(values, { prefix, ignoreCase });
          for (const s of [...inputs, ...values, ...values.map((v) => prefix + v)]) {
            expect(m(s), `${JSON.stringify(values)} ${prefix} ${ignoreCase} ${s}`).toBe(
              reference(values, s, prefix, ignoreCase),
            );
          }
        },
      ),
      propertyRuns(1000),
    );
  });
});
