import type { WorkloadRef } from '../policy/types.js';
import { structToJson, type WireAddress, type WireCheckRequest, type WireHttpRequest } from './wire-types.js';

/**
 * The plain request the core reads. Built by {@link toCheckInput}, the one function that reads the wire message.
 */
export interface CheckInput {
  /** `x-request-id` when present, else Envoy's stream id. */
  readonly requestId: string;
  /** The request's start (ms since epoch); identity validity is checked at this instant. */
  readonly time: number;
  readonly method: string;
  /** The raw `:path`, query included, not decoded (as Envoy sends it). */
  readonly rawPath: string;
  /** `rawPath` up to the first `?` or `#`. Not normalized: the policy engine normalizes. */
  readonly path: string;
  /** The query string without `?`, or ''. */
  readonly query: string;
  readonly host: string;
  readonly scheme: string;
  readonly protocol: string;
  /** Lowercase names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly source: PeerInput;
  readonly destination: PeerInput;
  /** The destination workload: context extensions, then destination labels, then the destination principal. */
  readonly workload: WorkloadRef;
  readonly contextExtensions: Readonly<Record<string, string>>;
  /** `metadata_context.filter_metadata` as plain JSON. */
  readonly filterMetadata: Readonly<Record<string, unknown>>;
  readonly sni: string;
}

export interface PeerInput {
  readonly address: string;
  readonly port: number;
  readonly principal: string;
  /** URL-encoded PEM leaf (only with Envoy's include_peer_certificate), or ''. */
  readonly certificate: string;
  readonly service: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A request that cannot be evaluated; it is denied with this reason. */
export class InvalidCheckRequest extends Error {
  override readonly name = 'InvalidCheckRequest';
  readonly code = 'invalid_request' as const;
}

/** Limits that keep a hostile request from costing more than a small, fixed amount. */
export interface InputLimits {
  readonly maxPathBytes: number;
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
}

export const DEFAULT_INPUT_LIMITS: InputLimits = { maxPathBytes: 8192, maxHeaderBytes: 65536, maxHeaders: 200 };

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
const PRINCIPAL_NS = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\//;

/**
 * CheckRequest → CheckInput. Throws {@link InvalidCheckRequest} for a request that carries no HTTP attributes or
 * exceeds the limits; every other field is optional and defaults to empty.
 */
export function toCheckInput(req: WireCheckRequest, limits: InputLimits = DEFAULT_INPUT_LIMITS): CheckInput {
  const attrs = req.attributes;
  const http = attrs?.request?.http;
  if (!attrs || !http) throw new InvalidCheckRequest('the CheckRequest has no attributes.request.http');
  const method = http.method ?? '';
  if (method === '') throw new InvalidCheckRequest('the CheckRequest has no HTTP method');
  const rawPath = http.path ?? '';
  if (rawPath === '') throw new InvalidCheckRequest('the CheckRequest has no HTTP path');
  if (rawPath.length > limits.maxPathBytes) {
    throw new InvalidCheckRequest(`the path is longer than ${limits.maxPathBytes} bytes`);
  }
  const headers = readHeaders(http, limits);
  const cut = firstIndexOfAny(rawPath, '?', '#');
  const path = cut < 0 ? rawPath : rawPath.slice(0, cut);
  const query = cut >= 0 && rawPath[cut] === '?' ? rawPath.slice(cut + 1).split('#', 1)[0]! : '';
  const source = readPeer(attrs.source);
  const destination = readPeer(attrs.destination);
  const contextExtensions = attrs.contextExtensions ?? EMPTY;
  const seconds = attrs.request?.time?.seconds;
  const secs = typeof seconds === 'number' ? seconds : seconds ? seconds.toNumber() : 0;
  const time = secs > 0 ? secs * 1000 + Math.floor((attrs.request?.time?.nanos ?? 0) / 1e6) : Date.now();
  return {
    requestId: headers['x-request-id'] || http.id || '',
    time,
    method,
    rawPath,
    path,
    query,
    host: http.host || headers[':authority'] || headers.host || '',
    scheme: http.scheme ?? '',
    protocol: http.protocol ?? '',
    headers,
    source,
    destination,
    workload: resolveWorkload(contextExtensions, destination),
    contextExtensions,
    filterMetadata: readMetadata(attrs.metadataContext?.filterMetadata),
    sni: attrs.tlsSession?.sni ?? '',
  };
}

function firstIndexOfAny(s: string, a: string, b: string): number {
  const i = s.indexOf(a);
  const j = s.indexOf(b);
  if (i < 0) return j;
  if (j < 0) return i;
  return Math.min(i, j);
}

function readHeaders(http: WireHttpRequest, limits: InputLimits): Record<string, string> {
  let headers: Record<string, string> = http.headers ?? {};
  const map = http.headerMap?.headers;
  if (map && map.length > 0) {
    // encode_raw_headers: Envoy sends header_map instead; join duplicates with ',' as Envoy does for `headers`.
    headers = {};
    for (const h of map) {
      const key = (h.key ?? '').toLowerCase();
      const value = h.value ? h.value : h.rawValue ? Buffer.from(h.rawValue).toString('utf8') : '';
      headers[key] = headers[key] === undefined ? value : `${headers[key]},${value}`;
    }
  }
  let count = 0;
  let bytes = 0;
  for (const key in headers) {
    count++;
    bytes += key.length + (headers[key]?.length ?? 0);
  }
  if (count > limits.maxHeaders) throw new InvalidCheckRequest(`more than ${limits.maxHeaders} headers`);
  if (bytes > limits.maxHeaderBytes) throw new InvalidCheckRequest(`headers exceed ${limits.maxHeaderBytes} bytes`);
  return headers;
}

function readAddress(address: WireAddress | undefined): { address: string; port: number } {
  const socket = address?.socketAddress;
  return { address: socket?.address ?? '', port: socket?.portValue ?? 0 };
}

function readPeer(peer: WirePeer | undefined): PeerInput {
  const { address, port } = readAddress(peer?.address);
  return {
    address,
    port,
    principal: peer?.principal ?? '',
    certificate: peer?.certificate ?? '',
    service: peer?.service ?? '',
    labels: peer?.labels ?? EMPTY,
  };
}

type WirePeer = NonNullable<NonNullable<WireCheckRequest['attributes']>['source']>;

function readMetadata(filterMetadata: Record<string, import('./wire-types.js').WireStruct> | undefined) {
  if (!filterMetadata) return EMPTY;
  const out: Record<string, unknown> = {};
  for (const ns of Object.keys(filterMetadata)) out[ns] = structToJson(filterMetadata[ns]);
  return out;
}

/**
 * Which workload the request is for: `context_extensions` (key `namespace`, every other key a label) set per
 * route by Envoy, then `destination.labels`, then the namespace segment of `destination.principal`.
 */
export function resolveWorkload(ext: Readonly<Record<string, string>>, destination: PeerInput): WorkloadRef {
  let namespace = '';
  let labels: Record<string, string> | null = null;
  for (const key of Object.keys(ext)) {
    if (key === 'namespace') namespace = ext[key] ?? '';
    else {
      labels ??= {};
      labels[key] = ext[key] ?? '';
    }
  }
  if (labels === null && Object.keys(destination.labels).length > 0) labels = { ...destination.labels };
  if (namespace === '') {
    const m = PRINCIPAL_NS.exec(destination.principal);
    if (m) namespace = m[1]!;
  }
  return { namespace, labels: labels ?? EMPTY };
}
