import { MeshAuthzError } from '../errors.js';
/**
 * SPIFFE IDs, validated exactly as the SPIFFE-ID standard writes them: on the raw string, never on a URL-normalized
 * form (a URL parser would lowercase, decode or strip things an attacker can use to make two different strings
 * compare equal in one place and not in another).
 */

export type SpiffeIdErrorCode =
  | 'empty'
  | 'too_long'
  | 'non_ascii'
  | 'wrong_scheme'
  | 'missing_trust_domain'
  | 'trust_domain_too_long'
  | 'trust_domain_uppercase'
  | 'trust_domain_port'
  | 'trust_domain_userinfo'
  | 'trust_domain_char'
  | 'percent_encoding'
  | 'query'
  | 'fragment'
  | 'empty_segment'
  | 'trailing_slash'
  | 'dot_segment'
  | 'path_char';

/** A string is not a SPIFFE ID. The message never repeats the input (it may be attacker-controlled and long). */
export class SpiffeIdError extends MeshAuthzError<SpiffeIdErrorCode> {
  override readonly name = 'SpiffeIdError';
  constructor(code: SpiffeIdErrorCode, message: string) {
    super(code, message);
  }
}

const SCHEME = 'spiffe://';
const MAX_ID_BYTES = 2048;
const MAX_TRUST_DOMAIN_BYTES = 255;
const K8S_PATH = /^\/ns\/([^/]+)\/sa\/([^/]+)$/;

/** A parsed, valid SPIFFE ID. Immutable; `toString()` gives back the exact input. */
export class SpiffeId {
  /** `<ns>` of a Kubernetes-form path `/ns/<ns>/sa/<sa>`, else null. */
  readonly namespace: string | null;
  /** `<sa>` of a Kubernetes-form path `/ns/<ns>/sa/<sa>`, else null. */
  readonly serviceAccount: string | null;

  /** Use {@link parseSpiffeId}: the constructor does not validate. */
  constructor(
    readonly trustDomain: string,
    /** '' or `/seg(/seg)*`. */
    readonly path: string,
  ) {
    const k8s = K8S_PATH.exec(path);
    this.namespace = k8s ? k8s[1]! : null;
    this.serviceAccount = k8s ? k8s[2]! : null;
  }

  toString(): string {
    return `${SCHEME}${this.trustDomain}${this.path}`;
  }

  /** `spiffe://<trust-domain>`: the ID that names the trust domain itself. */
  get trustDomainId(): string {
    return `${SCHEME}${this.trustDomain}`;
  }
}

function isTrustDomainChar(c: number): boolean {
  // [a-z0-9.-_]
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x2d || c === 0x5f;
}

function isPathChar(c: number): boolean {
  // [a-zA-Z0-9.-_]
  return isTrustDomainChar(c) || (c >= 0x41 && c <= 0x5a);
}

/** Why a character is not allowed, with the most specific code we can give. */
function classify(c: number, inTrustDomain: boolean): SpiffeIdError {
  if (c >= 0x80) return new SpiffeIdError('non_ascii', 'a SPIFFE ID contains only ASCII characters');
  if (c === 0x25) return new SpiffeIdError('percent_encoding', 'a SPIFFE ID must not contain percent-encoding');
  if (c === 0x3f) return new SpiffeIdError('query', 'a SPIFFE ID must not contain a query');
  if (c === 0x23) return new SpiffeIdError('fragment', 'a SPIFFE ID must not contain a fragment');
  if (inTrustDomain) {
    if (c >= 0x41 && c <= 0x5a) {
      return new SpiffeIdError('trust_domain_uppercase', 'the trust domain must be lowercase');
    }
    if (c === 0x3a) return new SpiffeIdError('trust_domain_port', 'the trust domain must not contain a port');
    if (c === 0x40) return new SpiffeIdError('trust_domain_userinfo', 'the trust domain must not contain userinfo');
    return new SpiffeIdError('trust_domain_char', 'the trust domain may contain only a-z, 0-9, ".", "-" and "_"');
  }
  return new SpiffeIdError('path_char', 'path segments may contain only a-z, A-Z, 0-9, ".", "-" and "_"');
}

/** Validates a bare trust domain name (`example.org`), throwing {@link SpiffeIdError}. */
export function parseTrustDomain(td: string): string {
  if (td === '') throw new SpiffeIdError('missing_trust_domain', 'the trust domain is empty');
  if (td.length > MAX_TRUST_DOMAIN_BYTES) {
    throw new SpiffeIdError('trust_domain_too_long', `the trust domain is longer than ${MAX_TRUST_DOMAIN_BYTES} bytes`);
  }
  for (let i = 0; i < td.length; i++) {
    const c = td.charCodeAt(i);
    if (!isTrustDomainChar(c)) throw classify(c, true);
  }
  return td;
}

/**
 * Parses and validates a SPIFFE ID. Throws {@link SpiffeIdError} with a specific code for each way it can be wrong.
 * Checks run on UTF-16 code units: anything ≥ 0x80 is rejected, so length in code units equals length in bytes.
 */
export function parseSpiffeId(s: string): SpiffeId {
  if (s === '') throw new SpiffeIdError('empty', 'the SPIFFE ID is empty');
  if (s.length > MAX_ID_BYTES) throw new SpiffeIdError('too_long', `a SPIFFE ID is at most ${MAX_ID_BYTES} bytes`);
  if (!s.startsWith(SCHEME)) {
    throw new SpiffeIdError('wrong_scheme', 'a SPIFFE ID starts with "spiffe://" (lowercase scheme)');
  }
  let slash = s.indexOf('/', SCHEME.length);
  if (slash < 0) slash = s.length;
  const td = s.slice(SCHEME.length, slash);
  parseTrustDomain(td);
  const path = s.slice(slash);
  validatePath(path);
  return new SpiffeId(td, path);
}

/** Like {@link parseSpiffeId} but returns null instead of throwing. */
export function tryParseSpiffeId(s: string): SpiffeId | null {
  try {
    return parseSpiffeId(s);
  } catch {
    return null;
  }
}

function validatePath(path: string): void {
  if (path === '') return;
  // path starts with '/': walk the segments.
  let start = 1;
  for (let i = 1; i <= path.length; i++) {
    if (i < path.length && path.charCodeAt(i) !== 0x2f) {
      const c = path.charCodeAt(i);
      if (!isPathChar(c)) throw classify(c, false);
      continue;
    }
    const len = i - start;
    if (len === 0) {
      throw i === path.length
        ? new SpiffeIdError('trailing_slash', 'a SPIFFE ID must not end with "/"')
        : new SpiffeIdError('empty_segment', 'a SPIFFE ID path must not contain empty segments ("//")');
    }
    if ((len === 1 && path[start] === '.') || (len === 2 && path[start] === '.' && path[start + 1] === '.')) {
      throw new SpiffeIdError('dot_segment', 'a SPIFFE ID path must not contain "." or ".." segments');
    }
    start = i + 1;
  }
}
