/**
 * All I/O that feeds the pure cores: policy files (loaded, watched, reloaded atomically), JWKS and trust-bundle
 * files and endpoints, and (with the workload registry and the reconciler) the Kubernetes API.
 */

export { createIdentityVerifier, type IdentityVerifierOptions, type ManagedIdentityVerifier } from './identity.js';
export { FileJwks, type JwksSourceOptions, openJwks, RemoteJwks, type RemoteJwksOptions } from './jwks.js';
export { loadPolicyPaths } from './policy-files.js';
export { PolicyStore, type PolicyStoreOptions, type ReloadEvent } from './policy-store.js';
export { TrustBundleLoader, type TrustBundleLoaderOptions } from './trust-bundles.js';
