import type { Command } from './args.js';

/** Placeholder until issue 8 lands; replaced wholesale by that work. */
export const discoverCommand: Command = {
  summary: '(arrives with issue 8)',
  help: 'mesh-authz discover: arrives with issue 8',
  async run() {
    process.stderr.write('mesh-authz discover: arrives with issue 8\n');
    return 2;
  },
};
