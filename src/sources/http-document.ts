/**
 * Fetching a small JSON document from an endpoint the operator configured (an issuer's JWKS, a SPIFFE bundle
 * endpoint). What comes back is bounded like any other input: an endpoint that never answers, or answers slowly
 * or without end, ends in an error within `timeoutMs`, and a body over `maxBytes` is refused once the bytes read
 * pass the bound. Nothing larger is ever held. The caller keeps its last good document on any error.
 */

/** A JWKS or a bundle document is a few KB; a thousand keys fit in far less than this. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;
export const DOCUMENT_TIMEOUT_MS = 5000;

export interface DocumentOptions {
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

/** The answer: the status, and the body when the status is 2xx (otherwise the body is not read). */
export interface FetchedDocument {
  readonly ok: boolean;
  readonly status: number;
  readonly text: string;
}

/**
 * GETs `url` as JSON (no redirects). `what` names the endpoint in errors, e.g. "the JWKS endpoint
 * https://idp.example.com".
 */
export async function fetchDocument(
  url: string,
  what: string,
  options: DocumentOptions = {},
): Promise<FetchedDocument> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? DOCUMENT_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? MAX_DOCUMENT_BYTES;
  // One deadline for the headers and the body together: a body that trickles in cannot outlast it.
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await doFetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      return { ok: false, status: res.status, text: '' };
    }
    return { ok: true, status: res.status, text: await readBounded(res, maxBytes, what) };
  } catch (err) {
    if (signal.aborted) throw new Error(`${what} did not answer within ${timeoutMs} ms`);
    throw err;
  }
}

async function readBounded(res: Response, maxBytes: number, what: string): Promise<string> {
  const tooLarge = () => new Error(`${what} sent more than ${maxBytes} bytes`);
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

/** Endpoints must use https; plain http only to this host (a local agent, a test). */
export function isHttpsOrLoopback(url: URL): boolean {
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  return url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
}
