import { describe, expect, it } from 'vitest';
import {
  compileNamespaceMatch,
  compileStringMatch,
  compileWildcardMatch,
  containsGlob,
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
