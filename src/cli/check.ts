import type { Command } from './args.js';

/** Placeholder until issue 2 lands; replaced wholesale by that work. */
export const checkCommand: Command = {
  summary: '(arrives with issue 2)',
  help: 'mesh-authz check: arrives with issue 2',
  async run() {
    process.stderr.write('mesh-authz check: arrives with issue 2\n');
    return 2;
  },
};
