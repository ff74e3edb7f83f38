import { type LoadedConfig, resolveFrom } from '../config/load.js';
import { createIdentityVerifier } from '../identity/index.js';
import { type IdentitySource, type PolicySource, staticPolicySource } from './sources.js';

/**
 * The one place that builds the pluggable parts (policy source, identity verifier) from a config, used by both
 * `serve` and `check` so the two evaluate a request exactly the same way.
 *
 * Wiring: the policy engine's `PolicyStore` and identity's `createIdentityVerifier` plug in here. With no policy
 * source wired, no policy set ever loads, so every check is denied UNAVAILABLE (fail closed), and with no
 * identity verifier no request carries a verified identity (so identity-based rules never match).
 */

export interface PartsOverrides {
  /** `check --policy`: policy files or folders used instead of `policy.paths`. */
  readonly policyPaths?: readonly string[];
  /** One-shot use (offline `check`): load once, do not watch files. */
  readonly watch?: boolean;
}

export interface AssembledParts {
  readonly policies: PolicySource;
  readonly identity: IdentitySource;
}

export async function assembleParts(loaded: LoadedConfig, overrides: PartsOverrides = {}): Promise<AssembledParts> {
  const identity = await buildIdentity(loaded, overrides);
  return { policies: staticPolicySource(null), identity };
}

/** The identity verifier of `identity:` in the config (bundle/JWKS paths relative to the config file). */
function buildIdentity(loaded: LoadedConfig, overrides: PartsOverrides): Promise<IdentitySource> {
  return createIdentityVerifier(loaded.config.identity, {
    resolvePath: (p) => resolveFrom(loaded, p),
    watch: overrides.watch ?? true,
  });
}
