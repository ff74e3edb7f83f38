import { MeshAuthzError } from '../errors.js';
/**
 * `x-forwarded-client-cert` (XFCC), parsed strictly. The header says which client certificate a proxy verified;
 * most of it can be written by the client itself (see {@link selectTrustedElement}), so the parser refuses anything
 * ambiguous instead of guessing: a value either is a bare token or a complete double-quoted string with `\"` and
 * `\\` escapes, and every element is a `;`-separated list of known `Key=Value` pairs.
 */

export interface XfccElement {
  /** `By`: the SAN of the proxy that verified the client (URI or DNS). */
  readonly by: readonly string[];
  readonly hash: string | null;
  /** `Cert`: URL-encoded PEM of the client leaf. */
  readonly cert: string | null;
  /** `Chain`: URL-encoded PEM of the client chain. */
  readonly chain: string | null;
  readonly subject: string | null;
  /** `URI` SANs (Envoy emits `URI=` when there is none: empty values are dropped here). */
  readonly uri: readonly string[];
  readonly dns: readonly string[];
}

export type XfccTrust = 'last' | 'only';

export type XfccErrorCode = 'xfcc_malformed' | 'xfcc_untrusted';

export class XfccError extends MeshAuthzError<XfccErrorCode> {
  override readonly name = 'XfccError';
  constructor(code: XfccErrorCode, message: string) {
    super(code, message);
  }
}

/** A header longer than this is refused outright (Envoy's own limits are far below it). */
const MAX_HEADER = 64 * 1024;
const MAX_ELEMENTS = 32;

type MutableElement = {
  -readonly [K in keyof XfccElement]: XfccElement[K] extends readonly string[] ? string[] : XfccElement[K];
};

function malformed(what: string): never {
  throw new XfccError('xfcc_malformed', `the x-forwarded-client-cert header is malformed: ${what}`);
}

/** Parses the whole header into its elements, one per proxy hop, in order. Throws {@link XfccError}. */
export function parseXfcc(header: string): XfccElement[] {
  if (header.length > MAX_HEADER) malformed('too long');
  const elements: XfccElement[] = [];
  let el: MutableElement = emptyElement();
  let i = 0;
  const n = header.length;
  while (true) {
    // key
    const eq = header.indexOf('=', i);
    if (eq < 0) malformed('a pair has no "="');
    const key = header.slice(i, eq);
    if (!/^[A-Za-z]+$/.test(key)) malformed('a key is not a plain word');
    i = eq + 1;
    // value
    let value: string;
    if (header.charCodeAt(i) === 0x22) {
      let out = '';
      let j = i + 1;
      for (;;) {
        if (j >= n) malformed('an unterminated quoted value');
        const c = header[j]!;
        if (c === '"') break;
        if (c === '\\') {
          const next = header[j + 1];
          if (next !== '"' && next !== '\\') malformed('an unknown escape in a quoted value');
          out += next;
          j += 2;
          continue;
        }
        out += c;
        j++;
      }
      value = out;
      i = j + 1;
      if (i < n && header[i] !== ';' && header[i] !== ',') malformed('text after a closing quote');
    } else {
      let j = i;
      while (j < n && header[j] !== ';' && header[j] !== ',') {
        const c = header[j]!;
        if (c === '"' || c === '=' || c === '\\') malformed('a bare value contains a quote, "=" or backslash');
        j++;
      }
      value = header.slice(i, j);
      i = j;
    }
    if (/[\u0000-\u001f\u007f]/.test(value)) malformed('a control character in a value');
    addPair(el, key.toLowerCase(), value);
    if (i >= n) break;
    if (header[i] === ';') {
      i++;
      continue;
    }
    // ',' ends the element; optional whitespace follows (proxies join repeated headers with ", ").
    elements.push(el);
    if (elements.length >= MAX_ELEMENTS) malformed('too many elements');
    el = emptyElement();
    i++;
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
    if (i >= n) malformed('an empty element');
  }
  elements.push(el);
  return elements;
}

function emptyElement(): MutableElement {
  return { by: [], hash: null, cert: null, chain: null, subject: null, uri: [], dns: [] };
}

function addPair(el: MutableElement, key: string, value: string): void {
  switch (key) {
    case 'by':
      if (value !== '') el.by.push(value);
      return;
    case 'uri':
      if (value !== '') el.uri.push(value);
      return;
    case 'dns':
      if (value !== '') el.dns.push(value);
      return;
    case 'hash':
    case 'cert':
    case 'chain':
    case 'subject':
      if (el[key] !== null) malformed(`the ${key} key appears twice in one element`);
      el[key] = value;
      return;
    default:
      // Envoy writes only the keys above; anything else was not written by Envoy.
      malformed('an unknown key');
  }
}

/**
 * The one element this service may believe. With Envoy's APPEND_FORWARD (Istio's sidecar default) only the LAST
 * element was added by the proxy; the rest came from the client and prove nothing. With SANITIZE_SET the proxy
 * replaces the header, so there must be exactly ONE element: more means the header did not come from such a proxy.
 */
export function selectTrustedElement(elements: readonly XfccElement[], trust: XfccTrust): XfccElement {
  if (elements.length === 0) malformed('no element');
  if (trust === 'only' && elements.length !== 1) {
    throw new XfccError('xfcc_untrusted', 'the x-forwarded-client-cert header has more than one element');
  }
  return elements[elements.length - 1]!;
}
