import { describe, expect, it } from 'vitest';
import { cidrContains, compileIpMatch, parseCidr, parseIp } from './ip.js';

describe('ip', () => {
  it('parses v4, v6, embedded v4 and rejects junk', () => {
    expect(parseIp('10.0.0.1')).toEqual({ v6: false, words: [0x0a000001] });
    expect(parseIp('::1')?.words).toEqual([0, 0, 0, 1]);
    expect(parseIp('2001:db8::8:800:200c:417a')?.words).toEqual([0x20010db8, 0, 0x00080800, 0x200c417a]);
    expect(parseIp('::ffff:10.0.0.1')).toEqual({ v6: false, words: [0x0a000001] });
    for (const bad of ['10.0.0', '10.0.0.256', '01.2.3.4', '1::2::3', 'x', '', '1:2:3:4:5:6:7:8:9']) {
      expect(parseIp(bad)).toBeNull();
    }
  });

  it('tests CIDR membership at every prefix length edge', () => {
    const b = parseCidr('192.168.4.0/22')!;
    expect(cidrContains(b, parseIp('192.168.7.255')!)).toBe(true);
    expect(cidrContains(b, parseIp('192.168.8.0')!)).toBe(false);
    expect(cidrContains(parseCidr('0.0.0.0/0')!, parseIp('8.8.8.8')!)).toBe(true);
    expect(cidrContains(parseCidr('2001:db8::/33')!, parseIp('2001:db8:7fff::1')!)).toBe(true);
    expect(cidrContains(parseCidr('2001:db8::/33')!, parseIp('2001:db8:8000::1')!)).toBe(false);
    expect(cidrContains(parseCidr('10.0.0.0/8')!, parseIp('::1')!)).toBe(false);
    expect(parseCidr('10.0.0.0/33')).toBeNull();
    expect(parseCidr('::/129')).toBeNull();
  });

  it('a compiled matcher never matches an empty or invalid address', () => {
    const m = compileIpMatch(['0.0.0.0/0', '::/0']);
    expect(m('')).toBe(false);
    expect(m('garbage')).toBe(false);
    expect(m('1.2.3.4')).toBe(true);
  });
});
