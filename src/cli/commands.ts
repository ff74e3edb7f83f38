import type { CommandTable } from './args.js';

/** Every command, loaded on use (serve pulls in gRPC and telemetry; `check --help` should not). */
export const commands: CommandTable = {
  serve: async () => (await import('./serve.js')).serveCommand,
  check: async () => (await import('./check.js')).checkCommand,
  explain: async () => (await import('./explain.js')).explainCommand,
  lint: async () => (await import('./lint.js')).lintCommand,
  reconcile: async () => (await import('./reconcile.js')).reconcileCommand,
  discover: async () => (await import('./discover.js')).discoverCommand,
  audit: async () => (await import('./audit.js')).auditCommand,
  impact: async () => (await import('./impact.js')).impactCommand,
  // The completion script describes every command, itself included: it is handed this table instead of importing
  // it, so the two modules do not import each other.
  completion: async () => (await import('./completion.js')).completionCommand(commands),
};
