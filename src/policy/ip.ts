/**
 * IP addresses and CIDR blocks without `node:net` (policy/ is pure). Addresses are held as four 32-bit words so a
 * CIDR test is at most four masked compares. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are read as IPv4: a
 * dual-stack listener reports IPv4 peers that way, and a v4 block must still apply to them.
 */

export interface IpAddress {
  readonly v6: boolean;
  /** v4: one word; v6: four words, big-endian. */
  readonly words: readonly number[];
}

export interface CidrBlock {
  readonly v6: boolean;
  readonly words: readonly number[];
  readonly bits: number;
}

function parseV4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    if (p.length > 1 && p[0] === '0') return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n >>> 0;
}

function parseV6(input: string): number[] | null {
  let text = input;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const lastColon = text.lastIndexOf(':');
  const lastPart = text.slice(lastColon + 1);
  if (lastPart.includes('.')) {
    // An embedded IPv4 tail (`::ffff:1.2.3.4`) is the last two groups.
    const v4 = parseV4(lastPart);
    if (v4 === null) return null;
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === null || rest === null) return null;
  let groups: number[];
  if (halves.length === 1) {
    if (head.length !== 8) return null;
    groups = head;
  } else {
    if (head.length + rest.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  }
  const words: number[] = [];
  for (let i = 0; i < 8; i += 2) words.push(((groups[i]! << 16) | groups[i + 1]!) >>> 0);
  return words;
}

function groupsOf(text: string): number[] | null {
  if (text === '') return [];
  const out: number[] = [];
  for (const g of text.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    out.push(Number.parseInt(g, 16));
  }
  return out;
}

/** Parses an IPv4 or IPv6 address; null when it is not one. */
export function parseIp(s: string): IpAddress | null {
  if (s.includes(':')) {
    const words = parseV6(s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s);
    if (words === null) return null;
    if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) return { v6: false, words: [words[3]!] };
    return { v6: true, words };
  }
  const v4 = parseV4(s);
  return v4 === null ? null : { v6: false, words: [v4] };
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, `x::y` or `x::y/n` (a bare address is a /32 or /128). */
export function parseCidr(s: string): CidrBlock | null {
  const slash = s.indexOf('/');
  const text = slash < 0 ? s : s.slice(0, slash);
  const addr = parseIp(text);
  if (addr === null) return null;
  // The prefix length's range follows the written form: `::ffff:10.0.0.0/104` is a valid v6 prefix (Go's
  // net.ParseCIDR, which Istio uses, accepts it) even though the address is read as IPv4.
  const v6Form = text.includes(':');
  let bits = v6Form ? 128 : 32;
  if (slash >= 0) {
    const b = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b)) return null;
    const n = Number(b);
    if (n > bits) return null;
    bits = n;
  }
  // A mapped v4 address written in v6 form keeps its v6 prefix length: shift it to the v4 range.
  if (!addr.v6 && v6Form) bits = Math.max(0, bits - 96);
  return { v6: addr.v6, words: addr.words, bits };
}

/** True when `ip` lies in `block`. */
export function cidrContains(block: CidrBlock, ip: IpAddress): boolean {
  if (block.v6 !== ip.v6) return false;
  let left = block.bits;
  for (let i = 0; i < block.words.length && left > 0; i++) {
    const take = Math.min(left, 32);
    const mask = take === 32 ? 0xffffffff : ~(0xffffffff >>> take) >>> 0;
    if (((block.words[i]! ^ ip.words[i]!) & mask) >>> 0 !== 0) return false;
    left -= take;
  }
  return true;
}

let lastText = '';
let lastParsed: IpAddress | null = null;

/**
 * Parses a request's address, remembering the last one: one evaluation tests the same source IP against every
 * ipBlocks rule, so this turns N parses into one without allocating a per-request context.
 */
export function requestIp(s: string): IpAddress | null {
  if (s === lastText) return lastParsed;
  lastParsed = s === '' ? null : parseIp(s);
  lastText = s;
  return lastParsed;
}

/** One test for the OR of CIDR values (already validated). */
export function compileIpMatch(values: readonly string[]): (ip: string) => boolean {
  const blocks = values.map(parseCidr).filter((b): b is CidrBlock => b !== null);
  return (text) => {
    const ip = requestIp(text);
    if (ip === null) return false;
    for (const b of blocks) if (cidrContains(b, ip)) return true;
    return false;
  };
}
