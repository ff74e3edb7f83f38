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

// Rules for `ipBlocks` / `remoteIpBlocks` / `destination.ip` (../shared/reference/istio-authorization.md: "IPs/CIDRs
// must parse"); Istio reads them with Go's net.ParseIP / net.ParseCIDR (istio/istio
// pilot/pkg/security/authz/model/generator.go), and Envoy's CidrRange never lets a v4 range match a v6 peer.
describe('ip: address syntax (both sides)', () => {
  it('accepts the IPv4 octet edges 0 and 255', () => {
    expect(parseIp('0.0.0.0')).toEqual({ v6: false, words: [0] });
    expect(parseIp('255.255.255.255')).toEqual({ v6: false, words: [0xffffffff] });
    expect(parseIp('1.2.3.4')).toEqual({ v6: false, words: [0x01020304] });
  });

  it('rejects malformed IPv4: 256, leading zeros, empty or non-digit octets, wrong octet count', () => {
    for (const bad of [
      '256.0.0.0',
      '1.2.3.256',
      '1.2.3.00',
      '00.1.2.3',
      '1.2.3.04',
      '1..2.3',
      '1.2.3.',
      '.1.2.3',
      '1.2.3.4.5',
      '1.2.3',
      '1234.1.1.1',
      'a1.2.3.4',
      '1a.2.3.4',
      '1.2.3.4a',
      '1.2.3. 4',
      '+1.2.3.4',
      '1.2.3.-4',
    ]) {
      expect(parseIp(bad), bad).toBeNull();
    }
  });

  it('accepts full, compressed, zoned, bracketed and upper-case IPv6', () => {
    expect(parseIp('1:2:3:4:5:6:7:8')?.words).toEqual([0x00010002, 0x00030004, 0x00050006, 0x00070008]);
    expect(parseIp('ABCD:EF01:2345:6789:abcd:ef01:2345:6789')?.words).toEqual([
      0xabcdef01, 0x23456789, 0xabcdef01, 0x23456789,
    ]);
    expect(parseIp('::')).toEqual({ v6: true, words: [0, 0, 0, 0] });
    expect(parseIp('1::')?.words).toEqual([0x00010000, 0, 0, 0]);
    expect(parseIp('1::2')?.words).toEqual([0x00010000, 0, 0, 2]);
    expect(parseIp('1:2:3:4:5:6::7')?.words).toEqual([0x00010002, 0x00030004, 0x00050006, 0x00000007]);
    // `::` standing for exactly one zero group, at either end.
    expect(parseIp('1:2:3:4:5:6:7::')?.words).toEqual([0x00010002, 0x00030004, 0x00050006, 0x00070000]);
    expect(parseIp('::2:3:4:5:6:7:8')?.words).toEqual([0x00000002, 0x00030004, 0x00050006, 0x00070008]);
    expect(parseIp('fe80::1%eth0')?.words).toEqual([0xfe800000, 0, 0, 1]);
    expect(parseIp('[::1]')).toEqual({ v6: true, words: [0, 0, 0, 1] });
    expect(parseIp('64:ff9b::1.2.3.4')).toEqual({ v6: true, words: [0x0064ff9b, 0, 0, 0x01020304] });
  });

  it('rejects malformed IPv6: bad groups, group counts, a `::` that stands for no group, half brackets', () => {
    for (const bad of [
      '1:2:3:4:5:6:7', // 7 groups and no `::`
      '1:2:3:4:5:6:7::8', // `::` must stand for at least one zero group (Go netip)
      '::1:2:3:4:5:6:7:8',
      '12345::1',
      'g::1',
      '1:x::1',
      '::x',
      '1::2:',
      ':1::2',
      ':::',
      '[::1',
      '::1]',
      '1::1]',
      'f::1]',
      '::ffff:1.2.3.256',
      '::ffff:1.2.3',
      '::ffff:01.2.3.4',
    ]) {
      expect(parseIp(bad), bad).toBeNull();
    }
  });

  it('reads only ::ffff:a.b.c.d (IPv4-mapped) as IPv4, not other v6 forms that embed or resemble it', () => {
    expect(parseIp('::ffff:0:1')).toEqual({ v6: false, words: [1] });
    expect(parseIp('::FFFF:192.168.1.1')).toEqual({ v6: false, words: [0xc0a80101] });
    // IPv4-compatible (deprecated), non-0xffff group, non-zero high words: all stay v6.
    expect(parseIp('::1.2.3.4')).toEqual({ v6: true, words: [0, 0, 0, 0x01020304] });
    expect(parseIp('::fffe:1.2.3.4')?.v6).toBe(true);
    expect(parseIp('1::ffff:1.2.3.4')?.v6).toBe(true);
    expect(parseIp('0:0:1:0:0:ffff:102:304')?.v6).toBe(true);
  });
});

describe('ip: CIDR blocks (both sides)', () => {
  const inBlock = (block: string, ip: string): boolean => cidrContains(parseCidr(block)!, parseIp(ip)!);

  it('a v4 block never matches a v6 address and a v6 block never matches a v4 address, even at /0', () => {
    expect(inBlock('0.0.0.0/0', '::1')).toBe(false);
    expect(inBlock('0.0.0.0/0', '::')).toBe(false);
    expect(inBlock('0.0.0.0/0', '1.2.3.4')).toBe(true);
    expect(inBlock('::/0', '1.2.3.4')).toBe(false);
    expect(inBlock('::/0', '::1')).toBe(true);
  });

  it('a v4 block matches the IPv4-mapped form of its addresses, and a mapped block keeps its v6 prefix length', () => {
    expect(inBlock('10.0.0.0/8', '::ffff:10.1.2.3')).toBe(true);
    expect(inBlock('10.0.0.0/8', '::ffff:11.1.2.3')).toBe(false);
    expect(inBlock('::ffff:10.0.0.0/104', '10.255.0.1')).toBe(true);
    expect(inBlock('::ffff:10.0.0.0/104', '11.0.0.1')).toBe(false);
    expect(parseCidr('::ffff:10.0.0.0/104')).toEqual({ v6: false, words: [0x0a000000], bits: 8 });
    expect(parseCidr('::ffff:10.0.0.1/128')?.bits).toBe(32);
    expect(inBlock('::ffff:10.0.0.1/128', '10.0.0.1')).toBe(true);
    expect(inBlock('::ffff:10.0.0.1/128', '10.0.0.2')).toBe(false);
    expect(parseCidr('::ffff:10.0.0.0/96')?.bits).toBe(0);
  });

  it('/32 and /128 (and a bare address) match exactly one address; /0 matches every address of its family', () => {
    expect(inBlock('10.0.0.1/32', '10.0.0.1')).toBe(true);
    expect(inBlock('10.0.0.1/32', '10.0.0.0')).toBe(false);
    expect(inBlock('10.0.0.1/32', '10.0.0.2')).toBe(false);
    expect(inBlock('10.0.0.1/32', '138.0.0.1')).toBe(false);
    expect(inBlock('10.0.0.1', '10.0.0.1')).toBe(true);
    expect(inBlock('10.0.0.1', '10.0.0.3')).toBe(false);
    expect(parseCidr('10.0.0.1')?.bits).toBe(32);
    expect(parseCidr('::1')?.bits).toBe(128);
    expect(inBlock('2001:db8::1/128', '2001:db8::1')).toBe(true);
    expect(inBlock('2001:db8::1/128', '2001:db8::2')).toBe(false);
    expect(inBlock('2001:db8::1/128', '2001:db9::1')).toBe(false);
    expect(inBlock('2001:db8::1/128', '8001:db8::1')).toBe(false);
    expect(inBlock('2001:db8::1', '2001:db8::1:1')).toBe(false);
    expect(inBlock('0.0.0.0/0', '255.255.255.255')).toBe(true);
    expect(inBlock('::/0', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
  });

  it('compares every word a prefix covers, and only those', () => {
    expect(inBlock('10.0.0.0/8', '10.255.255.255')).toBe(true);
    expect(inBlock('10.0.0.0/8', '11.0.0.0')).toBe(false);
    expect(inBlock('10.0.0.0/8', '9.255.255.255')).toBe(false);
    expect(inBlock('128.0.0.0/1', '255.0.0.0')).toBe(true);
    expect(inBlock('128.0.0.0/1', '127.255.255.255')).toBe(false);
    expect(inBlock('2001:db8::/32', '2001:db8:ffff:ffff::1')).toBe(true);
    expect(inBlock('2001:db8::/32', '2001:db9::')).toBe(false);
    expect(inBlock('2001:db8::/64', '2001:db8::ffff:ffff:ffff:ffff')).toBe(true);
    expect(inBlock('2001:db8::/64', '2001:db8:0:1::')).toBe(false);
    expect(inBlock('2001:db8::/96', '2001:db8::ffff:ffff')).toBe(true);
    expect(inBlock('2001:db8::/96', '2001:db8::1:0:0')).toBe(false);
    expect(inBlock('2001:db8::/127', '2001:db8::1')).toBe(true);
    expect(inBlock('2001:db8::/127', '2001:db8::2')).toBe(false);
  });

  it('rejects prefix lengths out of range or not written as 1-3 digits', () => {
    expect(parseCidr('10.0.0.0/32')?.bits).toBe(32);
    expect(parseCidr('::/128')?.bits).toBe(128);
    expect(parseCidr('10.0.0.0/0')?.bits).toBe(0);
    for (const bad of [
      '10.0.0.0/33',
      '10.0.0.0/128',
      '::/129',
      '::ffff:10.0.0.0/129',
      '10.0.0.0/',
      '10.0.0.0/-1',
      '10.0.0.0/+8',
      '10.0.0.0/ 8',
      '10.0.0.0/8 ',
      '10.0.0.0/0008',
      '10.0.0.0/a',
      '10.0.0.0/8/8',
      '10.0.0/8',
      '/8',
      '',
    ]) {
      expect(parseCidr(bad), bad).toBeNull();
    }
  });
});

describe('ip: compiled matcher', () => {
  it('skips a value that does not parse instead of matching or throwing', () => {
    const m = compileIpMatch(['bogus', '10.0.0.0/8']);
    expect(m('10.1.1.1')).toBe(true);
    expect(m('11.1.1.1')).toBe(false);
  });

  it('matches the OR of its blocks and re-parses each new request address', () => {
    const m = compileIpMatch(['10.0.0.0/8', '2001:db8::/32']);
    expect(m('10.0.0.1')).toBe(true);
    expect(m('11.0.0.1')).toBe(false);
    expect(m('2001:db8::1')).toBe(true);
    expect(m('2001:db9::1')).toBe(false);
    expect(m('10.0.0.1')).toBe(true);
    expect(m('10.0.0.1')).toBe(true);
    expect(m('')).toBe(false);
    expect(m('10.0.0.1')).toBe(true);
  });

  it('an empty value list matches nothing', () => {
    expect(compileIpMatch([])('10.0.0.1')).toBe(false);
  });
});
