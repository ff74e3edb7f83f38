import type { JWK } from 'jose';
import type { TrustBundle } from './bundle.js';
import type { CertInfo } from './certificate.js';
import { parseTrustDomain } from './spiffe-id.js';
import type { X509AuthoritySource } from './x509-svid.js';

/**
 * The trust bundles of every trust domain this service trusts (its own and federated ones), each kept apart:
 * lookups always name the trust domain, and a domain with no bundle (or an empty one) is untrusted.
 * Pure state: `sources/trust-bundles.ts` feeds it from files and endpoints through {@link TrustBundleSet.update}.
 */
export class TrustBundleSet implements X509AuthoritySource {
  private readonly bundles = new Map<string, TrustBundle>();
  private readonly listeners = new Set<() => void>();
  private generationValue = 0;

  /** Increases whenever any bundle changes; caches of verified identities compare it. */
  get generation(): number {
    return this.generationValue;
  }

  /** Calls `listener` after every change (so caches of verified identities can be dropped). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(trustDomain: string): TrustBundle | null {
    return this.bundles.get(trustDomain) ?? null;
  }

  trustDomains(): string[] {
    return [...this.bundles.keys()];
  }

  x509Roots(trustDomain: string): readonly CertInfo[] | null {
    const b = this.bundles.get(trustDomain);
    return b && b.x509Authorities.length > 0 ? b.x509Authorities : null;
  }

  /** The JWT-SVID key `kid` of `trustDomain`, or null. */
  jwtKey(trustDomain: string, kid: string): JWK | null {
    return this.bundles.get(trustDomain)?.jwtAuthorities.get(kid) ?? null;
  }

  /** Sets a trust domain's bundle directly (tests, embedding). Replaces whatever configured sources gave. */
  set(bundle: TrustBundle): void {
    parseTrustDomain(bundle.trustDomain);
    this.bundles.set(bundle.trustDomain, bundle);
    this.changed();
  }

  /**
   * Replaces the bundles of the trust domains in `next` (others are kept). Listeners hear of it only when what is
   * trusted changed: a periodic refresh that brings the same keys must not flush every cached verdict.
   */
  update(next: ReadonlyMap<string, TrustBundle>): void {
    let changed = false;
    for (const [td, bundle] of next) {
      const prev = this.bundles.get(td);
      if (prev === undefined || contentKey(prev) !== contentKey(bundle)) changed = true;
      this.bundles.set(td, bundle);
    }
    if (changed) this.changed();
  }

  /** Forgets the listeners (shutdown). */
  close(): void {
    this.listeners.clear();
  }

  private changed(): void {
    this.generationValue++;
    for (const listener of this.listeners) listener();
  }
}

/** What a bundle trusts, as one comparable string: authority fingerprints and JWT keys. */
function contentKey(b: TrustBundle): string {
  const x509 = b.x509Authorities.map((c) => c.fingerprint).join(',');
  const jwt = [...b.jwtAuthorities].map(([kid, jwk]) => `${kid}=${JSON.stringify(jwk)}`).join(',');
  return `${x509}|${jwt}`;
}
