import {
  type CompiledPolicySet,
  type KeyPlan,
  keyPlanOf,
  type RequestAttributes,
  type WorkloadRef,
} from '../policy/types.js';

/**
 * Decision cache keys. A key is the key plan's prefix (the policy generation and the plan that decides the
 * destination workload), and exactly the request attributes the workload's policies read, plus the verified
 * identities when a policy reads them. The policy set builds each workload plan's {@link KeyPlan} with the plan
 * (`CompiledPolicySet.keyPlanFor`); the cache only reads it.
 *
 * Security: two requests that differ in any attribute a policy reads must never get the same key, or one would be
 * served the other's decision. Every variable part is therefore written length-prefixed (`<len>:<value>`) or as a
 * one-character marker that cannot start a length (`~` absent, `-` no identity), so the encoding is injective for
 * a given plan: no choice of values (separators, NULs, digits in values…) can make two different tuples collide.
 * The key plan (which parts, in which order) is fixed per (generation, plan), and its prefix, distinct for every
 * plan of a set, heads the key, so keys of different plans cannot be confused either.
 *
 * Speed: the key plan is built once, with the workload's policy plan; per request the work is one string
 * concatenation over the read attributes: no JSON.stringify of whole objects, no sorting, no hashing.
 */

/** Why a request's decision cannot be cached (counted, never an error). */
export type UncacheableReason = 'identity_without_credential_id' | 'metadata_too_large' | 'key_too_large';

export interface KeyLimits {
  /** Longer keys are not cached: a flood of huge unique requests must not crowd out useful entries. */
  readonly maxKeyChars: number;
  /** Serialized `filterMetadata` above this is not cached (only read when a policy reads metadata). */
  readonly maxMetadataChars: number;
}

export const DEFAULT_KEY_LIMITS: KeyLimits = { maxKeyChars: 16_384, maxMetadataChars: 4096 };

/** `<len>:<value>`: the one encoding used for every variable-length part. */
function lp(value: string): string {
  return value.length + ':' + value;
}

/**
 * The workload part of a key: namespace and labels, length-prefixed, labels in the order the request carried them.
 * Not sorting is deliberate: the same labels in another order only cost a miss, never a wrong hit.
 */
export function workloadKey(workload: WorkloadRef): string {
  let key = lp(workload.namespace);
  const labels = workload.labels;
  for (const name in labels) {
    if (!Object.hasOwn(labels, name)) continue;
    key += lp(name) + lp(labels[name] ?? '');
  }
  // targetRef policies apply through the workload's targets (Services, a Gateway): two requests with the same labels
  // but different targets can be decided by different policies, so the targets are part of the workload's key.
  const targets = workload.targets;
  if (targets !== undefined && targets.length > 0) {
    key += `@${targets.length}`;
    for (const t of targets) key += lp(t.group) + lp(t.kind) + lp(t.namespace ?? '') + lp(t.name);
  }
  return key;
}

/**
 * A key plan headed by the workload itself (`<generation>|<workload key>|`), for a set whose decisions may depend
 * on more of the workload than a plan (test stand-ins that decide with a plain function).
 */
export function makeKeyPlan(
  set: Pick<CompiledPolicySet, 'generation' | 'attributesFor'>,
  workload: WorkloadRef,
  wkey: string,
): KeyPlan {
  return keyPlanOf(set.generation + '|' + lp(wkey) + '|', set.attributesFor(workload));
}

/**
 * Short stand-ins for verified identities in keys. An identity's part of a key (credential fingerprint, SPIFFE ID,
 * issuer, subject) is ~150 characters that every lookup would copy and hash; instead each distinct identity gets
 * `#<n>.`, a number never handed out twice. The credential string objects come from the verifier's cache, so the
 * lookup here reuses the hash V8 keeps on them.
 *
 * Injective: a token stands for exactly one tuple of identity parts (every part is compared before a token is
 * reused), tokens are never reused for another tuple, even after the table starts over, and the `.` ends a
 * token, so it cannot run into the next part of the key. The table is bounded: when full it starts over, which
 * only costs misses (new numbers).
 */
export class IdentityTokens {
  private readonly peers = new Map<string, { readonly spiffeId: string; readonly token: string }>();
  private readonly users = new Map<
    string,
    { readonly issuer: string; readonly subject: string; readonly token: string }
  >();
  private next = 0;

  constructor(private readonly maxEntries = 65_536) {}

  peer(peer: NonNullable<RequestAttributes['peer']>): string {
    const hit = this.peers.get(peer.credentialId);
    if (hit !== undefined && hit.spiffeId === peer.spiffeId) return hit.token;
    const token = this.issue();
    if (this.peers.size >= this.maxEntries) this.peers.clear();
    this.peers.set(peer.credentialId, { spiffeId: peer.spiffeId, token });
    return token;
  }

  user(user: NonNullable<RequestAttributes['user']>): string {
    const hit = this.users.get(user.credentialId);
    if (hit !== undefined && hit.issuer === user.issuer && hit.subject === user.subject) return hit.token;
    const token = this.issue();
    if (this.users.size >= this.maxEntries) this.users.clear();
    this.users.set(user.credentialId, { issuer: user.issuer, subject: user.subject, token });
    return token;
  }

  get size(): number {
    return this.peers.size + this.users.size;
  }

  private issue(): string {
    this.next++;
    return `#${this.next.toString(36)}.`;
  }
}

/**
 * The key of one request under `plan`, or an {@link UncacheableReason}. Callers must pass the same request
 * object the policy engine evaluates. With `tokens`, identities are written as {@link IdentityTokens}; without,
 * as their length-prefixed parts.
 */
export function buildKey(
  plan: KeyPlan,
  request: RequestAttributes,
  limits: KeyLimits,
  tokens?: IdentityTokens,
): string | UncacheableReason {
  const use = plan.use;
  let key = plan.prefix;
  if (use.method) key += lp(request.method);
  // The raw path, query included: a superset of what the engine reads after stripping the query, so it can only
  // split entries the engine would treat alike (a miss), never merge ones it would treat apart.
  if (use.path) key += lp(request.path);
  if (use.host) key += lp(request.host);
  if (use.sourceIp) key += lp(request.sourceIp);
  if (use.remoteIp) key += lp(request.remoteIp);
  if (use.destinationIp) key += lp(request.destinationIp);
  if (use.destinationPort) key += lp(String(request.destinationPort));
  if (use.sni) key += lp(request.sni);
  if (use.peer) {
    const peer = request.peer;
    if (peer === null) key += '-';
    else {
      // The credential fingerprint pins the certificate (and so everything derived from it); the SPIFFE ID is
      // added so that a verifier handing out a weak fingerprint still cannot merge two different identities.
      if (peer.credentialId === '') return 'identity_without_credential_id';
      key += tokens ? tokens.peer(peer) : lp(peer.credentialId) + lp(peer.spiffeId);
    }
  }
  if (use.user) {
    const user = request.user;
    if (user === null) key += '-';
    else {
      // The token fingerprint pins every claim (groups included); issuer and subject are belt and braces.
      if (user.credentialId === '') return 'identity_without_credential_id';
      key += tokens ? tokens.user(user) : lp(user.credentialId) + lp(user.issuer) + lp(user.subject);
    }
  }
  const headers = request.headers;
  for (const name of plan.headers) {
    // hasOwn: a header named like an Object.prototype member must read as absent, not as a function.
    const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
    key += typeof value === 'string' ? lp(value) : '~';
  }
  if (use.metadata) {
    // Rare (only `experimental.envoy.filters.*` keys), so plain JSON is acceptable here; a different key order
    // only costs a miss.
    const json = JSON.stringify(request.filterMetadata);
    if (json.length > limits.maxMetadataChars) return 'metadata_too_large';
    key += lp(json);
  }
  if (key.length > limits.maxKeyChars) return 'key_too_large';
  return key;
}

/**
 * Distinguishes a built key from an {@link UncacheableReason}: a key always starts with the generation's digits, a
 * reason with a letter. Looks at one character (a Set lookup would flatten and hash the whole key).
 */
export function isUncacheable(value: string): value is UncacheableReason {
  const c = value.charCodeAt(0);
  // The length bound keeps a key from ever being taken for a reason (and counted under it) should a key one day
  // not start with a digit.
  return value.length <= MAX_REASON_LENGTH && !(c >= 48 && c <= 57);
}

/** Longer than any UncacheableReason. */
const MAX_REASON_LENGTH = 32;
