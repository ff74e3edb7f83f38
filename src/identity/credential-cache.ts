import { LRUCache } from 'lru-cache';

/**
 * Verdicts on credentials (a certificate, a bearer token), cached by the credential exactly as it arrived.
 *
 * Speed: a credential is a long string (a ~1.3 KB URL-encoded PEM, a ~500-character JWT), freshly decoded for
 * every request, so using it as a Map key would hash all of it on every lookup, which was most of a cached
 * lookup's cost. An entry is found instead by a short slot: the credential's scope (e.g. the header it came in),
 * its length and its last {@link TAIL} characters (the end of the signature, which differs between any two
 * credentials). A slot is only a hint: every hit is confirmed by comparing the whole credential and scope, which is
 * cheaper than hashing, so two credentials sharing a slot only evict each other and never share a verdict.
 */

/** Characters of the credential's end that go into its slot. */
const TAIL = 64;

interface Entry<V> {
  readonly scope: string;
  readonly credential: string;
  readonly value: V;
}

export class CredentialCache<V> {
  private readonly lru: LRUCache<string, Entry<V>>;
  private epochValue = 0;

  constructor(maxEntries: number) {
    this.lru = new LRUCache({ max: maxEntries });
  }

  /** The verdict cached for exactly this credential (and scope), if any. */
  get(credential: string, scope = ''): V | undefined {
    const hit = this.lru.get(slot(credential, scope));
    return hit !== undefined && hit.credential === credential && hit.scope === scope ? hit.value : undefined;
  }

  /**
   * Advances on every {@link clear}. A verdict computed asynchronously (a token checked against a JWKS fetched
   * meanwhile) passes the epoch it started in: if keys changed while it ran, the verdict may rest on a key that is
   * gone, so it answers its own request but is not stored.
   */
  get epoch(): number {
    return this.epochValue;
  }

  set(credential: string, value: V, scope = '', epoch = this.epochValue): void {
    if (epoch !== this.epochValue) return;
    this.lru.set(slot(credential, scope), { scope, credential, value });
  }

  clear(): void {
    this.epochValue++;
    this.lru.clear();
  }
}

function slot(credential: string, scope: string): string {
  return `${scope}\n${credential.length}:${credential.slice(-TAIL)}`;
}
