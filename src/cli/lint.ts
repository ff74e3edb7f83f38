import type { Command } from './args.js';

/** Placeholder until issue 3 lands; replaced wholesale by that work. */
export const lintCommand: Command = {
  summary: '(arrives with issue 3)',
  help: 'mesh-authz lint: arrives with issue 3',
  async run() {
    process.stderr.write('mesh-authz lint: arrives with issue 3\n');
    return 2;
  },
};
