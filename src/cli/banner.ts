import { join, relative } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { packageRoot } from '../config/paths.js';
import type { ListeningAddresses } from '../server/service.js';

/** Whether `serve` is serving the embedded default (examples/config.yaml of this package): a newcomer's first run. */
export function servesEmbeddedExamples(loaded: LoadedConfig): boolean {
  return loaded.file === join(packageRoot(), 'examples', 'config.yaml');
}

/**
 * What `serve` prints to stderr once it listens: where, and whether policies loaded. With the embedded examples it
 * adds commands to try that work from a checkout and from an installed package alike (`mesh-authz check …`, paths
 * relative to the current folder); with a real config it stays two lines (logs carry the rest).
 */
export function banner(loaded: LoadedConfig, a: ListeningAddresses, ready: boolean): string {
  const scheme = a.mtls ? 'mTLS' : a.tls ? 'TLS' : 'plaintext';
  const lines = [
    '',
    `mesh-authz listening: gRPC ${a.grpc} (${scheme})${a.admin ? `, admin http://${a.admin}` : ''}`,
    `policies: ${ready ? 'loaded, SERVING' : 'none loaded yet: every check is denied UNAVAILABLE, health NOT_SERVING'}`,
  ];
  if (servesEmbeddedExamples(loaded)) {
    const rel = (p: string) => relative(process.cwd(), p) || p;
    const cfg = rel(loaded.file);
    const request = (name: string) => rel(join(packageRoot(), 'examples', 'requests', name));
    lines.push(
      '',
      'Try it (offline, the same evaluation as this server):',
      `  mesh-authz check -c ${cfg} -r ${request('allowed.json')}`,
      `  mesh-authz check -c ${cfg} -r ${request('denied.json')}`,
      `  mesh-authz explain -c ${cfg} -r ${request('user-denied.json')}`,
    );
    if (a.admin) lines.push(`  curl -s http://${a.admin}/readyz`);
    lines.push('Stop with Ctrl-C (graceful drain).');
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}
