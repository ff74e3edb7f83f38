#!/usr/bin/env node
import { ConfigError } from '../config/errors.js';
import { type Command, UsageError } from './args.js';

const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serveCommand,
  check: async () => (await import('./check.js')).checkCommand,
  explain: async () => (await import('./explain.js')).explainCommand,
  lint: async () => (await import('./lint.js')).lintCommand,
  reconcile: async () => (await import('./reconcile.js')).reconcileCommand,
  discover: async () => (await import('./discover.js')).discoverCommand,
  audit: async () => (await import('./audit.js')).auditCommand,
  impact: async () => (await import('./impact.js')).impactCommand,
};

async function usage(): Promise<string> {
  const lines = ['mesh-authz: Envoy ext_authz service enforcing Istio AuthorizationPolicy', '', 'Usage:'];
  for (const [name, load] of Object.entries(commands)) {
    const cmd = await load();
    lines.push(`  mesh-authz ${name.padEnd(10)} ${cmd.summary}`);
  }
  lines.push('', 'Run `mesh-authz <command> --help` for a command’s options.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${await usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { packageVersion } = await import('./version.js');
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`mesh-authz: unknown command '${name}'\n\n${await usage()}\n`);
    return 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`mesh-authz ${name}: ${err.message}\n\n${command.help}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`mesh-authz ${name}: invalid configuration\n${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`mesh-authz: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
