import type { Command } from './args.js';

/** Placeholder until issue 7 lands; replaced wholesale by that work. */
export const reconcileCommand: Command = {
  summary: '(arrives with issue 7)',
  help: 'mesh-authz reconcile: arrives with issue 7',
  async run() {
    process.stderr.write('mesh-authz reconcile: arrives with issue 7\n');
    return 2;
  },
};
