import { pathToFileURL } from 'node:url';
import { createDecisionCache } from '../src/authz/cache.js';
import { AuthzService } from '../src/authz/service.js';
import type { PolicySource } from '../src/authz/sources.js';
import { packageVersion } from '../src/cli/version.js';
import { loadConfigFile, resolveFrom } from '../src/config/load.js';
import { createIdentityVerifier } from '../src/identity/index.js';
import { PolicyStore } from '../src/policy/index.js';
import { createTelemetry } from '../src/telemetry/index.js';

/**
 * A bench-only server entry: the same AuthzService `serve` runs, with every part wired (policy store, identity
 * verifier, decision cache, telemetry). Used by `npm run bench` only while `serve --config` does not yet wire the
 * policy store (src/authz/assemble.ts); run.ts says which entry it measured. Usage: mesh-server.js <config>.
 */

export async function startBenchService(configPath: string): Promise<AuthzService> {
  const loaded = loadConfigFile(configPath);
  const { config } = loaded;
  const telemetry = await createTelemetry(config.telemetry, { version: packageVersion() });
  const store = new PolicyStore({
    paths: config.policy.paths.map((p) => resolveFrom(loaded, p)),
    compile: {
      rootNamespace: config.policy.rootNamespace,
      pathNormalization: config.policy.pathNormalization,
      trustDomain: config.policy.trustDomain,
      trustDomainAliases: config.policy.trustDomainAliases,
      mode: config.policy.mode,
    },
    watch: false,
  });
  const policies: PolicySource = {
    current: () => store.current(),
    start: async () => {
      await store.load();
    },
    close: () => store.close(),
  };
  const identity = await createIdentityVerifier(config.identity, {
    resolvePath: (p) => resolveFrom(loaded, p),
    watch: false,
  });
  const service = new AuthzService(loaded, {
    policies,
    identity,
    cache: createDecisionCache(config.cache),
    tracer: telemetry.tracer,
    observers: [telemetry.observer],
    logger: telemetry.logger,
    onClosed: () => telemetry.shutdown(),
  });
  service.mountAdminRoute('/metrics', (req, res) => telemetry.metrics.handleMetrics(req, res));
  await service.start();
  return service;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const service = await startBenchService(process.argv[2]!);
  const stop = () => {
    service.shutdown('signal').then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
