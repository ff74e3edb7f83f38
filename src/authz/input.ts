import { MeshAuthzError } from '../errors.js';
import type { WorkloadRef } from '../policy/types.js';
import type { PeerInput } from './resolve.js';
import { resolveDestination } from './resolve.js';
import {
  isRequestMap,
  requestMap,
  structToJson,
  type WireAddress,
  type WireCheckRequest,
  type WireHttpRequest,
} from './wire-types.js';
import { EMPTY_REGISTRY, type WorkloadRegistry, type WorkloadResolution } from './workloads.js';

/**
 * The plain request the core reads. Built by {@link toCheckInput}, the one function that reads the wire message.
 */
export interface CheckInput {
  /** `x-request-id` when present, else Envoy's stream id. */
  readonly requestId: string;
  /**
   * The instant (ms since epoch) credentials are judged at: the server's own clock (or `check --at`), never the
   * caller's. Envoy's `attributes.request.time` is in {@link requestTime}, for information only: trusting it would
   * let an old timestamp revive an expired token, and a lagging Envoy clock would defeat the decision cache.
   */
  readonly time: number;
  /** Envoy's `attributes.request.time` (ms since epoch), or null when absent. Informational only. */
  readonly requestTime: number | null;
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
  /**
   * The destination workload: context extensions, then destination labels, then the registry by destination IP,
   * then by destination principal (see `resolve.ts`). Its labels are `{}` unless `workloadResolution` says found.
   */
  readonly workload: WorkloadRef;
  /** How `workload` was found; `namespace_only` / `unresolved` mean the labels are unknown. */
  readonly workloadResolution: WorkloadResolution;
  /** The registry's name for the workload (pod or config entry), or ''. */
  readonly workloadName: string;
  readonly contextExtensions: Readonly<Record<string, string>>;
  /** `metadata_context.filter_metadata` as plain JSON. */
  readonly filterMetadata: Readonly<Record<string, unknown>>;
  readonly sni: string;
}

export type { PeerInput } from './resolve.js';

/** A request that cannot be evaluated; it is denied with this reason. */
export class InvalidCheckRequest extends MeshAuthzError<'invalid_request'> {
  override readonly name = 'InvalidCheckRequest';
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_request', message, options);
  }
}

/** Limits that keep a hostile request from costing more than a small, fixed amount. */
export interface InputLimits {
  readonly maxPathBytes: number;
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
}

export const DEFAULT_INPUT_LIMITS: InputLimits = { maxPathBytes: 8192, maxHeaderBytes: 65536, maxHeaders: 200 };

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

/**
 * CheckRequest → CheckInput. Throws {@link InvalidCheckRequest} for a request that carries no HTTP attributes or
 * exceeds the limits; every other field is optional and defaults to empty.
 */
export function toCheckInput(
  req: WireCheckRequest,
  limits: InputLimits = DEFAULT_INPUT_LIMITS,
  now: number = Date.now(),
  registry: WorkloadRegistry = EMPTY_REGISTRY,
): CheckInput {
  const attrs = req.attributes;
  const http = attrs?.request?.http;
  if (!attrs || !http) throw new InvalidCheckRequest('the CheckRequest has no attributes.request.http');
  const method = http.method ?? '';
  if (method === '') throw new InvalidCheckRequest('the CheckRequest has no HTTP method');
  const rawPath = http.path ?? '';
  if (rawPath === '') throw new InvalidCheckRequest('the CheckRequest has no HTTP path');
  // Limits named in bytes count UTF-8 bytes (as on the wire), not UTF-16 code units.
  if (utf8Over(rawPath.length, limits.maxPathBytes) && Buffer.byteLength(rawPath, 'utf8') > limits.maxPathBytes) {
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
  const resolved = resolveDestination(contextExtensions, destination, registry);
  const requestTime = secs > 0 ? secs * 1000 + Math.floor((attrs.request?.time?.nanos ?? 0) / 1e6) : null;
  return {
    requestId: headers['x-request-id'] || http.id || '',
    time: now,
    requestTime,
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
    workload: resolved.workload,
    workloadResolution: resolved.resolution,
    workloadName: resolved.name,
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

/**
 * The request's headers as a map without a prototype: a lookup of `constructor` or `__proto__` must find only a
 * header of that name, never an `Object.prototype` member (a `request.headers[constructor]` condition would
 * otherwise match a request without that header).
 */
function readHeaders(http: WireHttpRequest, limits: InputLimits): Record<string, string> {
  const plain = http.headers;
  const map = http.headerMap?.headers;
  let hasPlain = false;
  if (plain !== undefined && plain !== null) {
    // Whether there is any header: the first key answers it.
    for (const _ in plain) {
      hasPlain = true;
      break;
    }
  }
  if (hasPlain && map && map.length > 0) {
    // Envoy sends one or the other (`header_map` with encode_raw_headers). Both at once is not Envoy: which one
    // the policy should read is ambiguous, so deny rather than silently pick one.
    throw new InvalidCheckRequest('both headers and header_map are set (ambiguous)');
  }
  let headers: Record<string, string>;
  if (hasPlain && isRequestMap(plain!)) {
    // The Check path's reader (server/check-decoder.ts) already built a map that inherits nothing for this request.
    headers = plain!;
  } else {
    headers = requestMap<string>();
    if (hasPlain) {
      for (const key of Object.keys(plain!)) headers[key] = plain![key] ?? '';
    } else if (map) {
      // encode_raw_headers: join duplicates with ',' as Envoy does for `headers`.
      for (const h of map) {
        const key = (h.key ?? '').toLowerCase();
        const value = h.value ? h.value : h.rawValue ? Buffer.from(h.rawValue).toString('utf8') : '';
        const prior = headers[key];
        headers[key] = prior === undefined ? value : `${prior},${value}`;
      }
    }
  }
  let count = 0;
  let units = 0;
  for (const key in headers) {
    count++;
    units += key.length + (headers[key]?.length ?? 0);
  }
  if (count > limits.maxHeaders) throw new InvalidCheckRequest(`more than ${limits.maxHeaders} headers`);
  if (utf8Over(units, limits.maxHeaderBytes)) {
    let bytes = 0;
    for (const key in headers) bytes += Buffer.byteLength(key, 'utf8') + Buffer.byteLength(headers[key] ?? '', 'utf8');
    if (bytes > limits.maxHeaderBytes) throw new InvalidCheckRequest(`headers exceed ${limits.maxHeaderBytes} bytes`);
  }
  return headers;
}

/**
 * Whether text of `units` UTF-16 code units may be over `maxBytes` in UTF-8. A code unit is at most 3 UTF-8 bytes
 * (a surrogate pair, two units, is 4), so below a third of the limit the exact count (a native call per string)
 * cannot exceed it and is skipped.
 */
function utf8Over(units: number, maxBytes: number): boolean {
  return units * 3 > maxBytes;
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
