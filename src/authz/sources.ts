import type { IdentityVerifier } from '../identity/types.js';
import type { CompiledPolicySet } from '../policy/types.js';

/**
 * The small interfaces the service plugs its parts in through. The policy engine's `PolicyStore` and identity's
 * verifier satisfy them; tests use simple real stand-ins.
 */

/** Where the current compiled policy set comes from. */
export interface PolicySource {
  /** The set in force, or null until one has loaded (every check is then denied UNAVAILABLE). */
  current(): CompiledPolicySet | null;
  /** Loads the first set and starts watching for changes. A failed first load leaves `current()` null. */
  start(): Promise<void>;
  close(): void | Promise<void>;
}

/** Verifies the credentials of a request; closed on shutdown (JWKS refreshers, bundle watchers). */
export interface IdentitySource extends IdentityVerifier {
  close(): void | Promise<void>;
}

/** A fixed policy set (or none), for the offline `check` and for tests. */
export function staticPolicySource(set: CompiledPolicySet | null): PolicySource {
  return {
    current: () => set,
    start: async () => {},
    close: () => {},
  };
}

/** Accepts every request with no verified identity: for setups whose policies read no identity. */
export const ANONYMOUS_IDENTITY: IdentitySource = {
  verify: () => ({ ok: true, peer: null, user: null }),
  close: () => {},
};
