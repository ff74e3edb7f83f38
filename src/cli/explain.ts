import type { Command } from './args.js';

/** Placeholder until issue 3 lands; replaced wholesale by that work. */
export const explainCommand: Command = {
  summary: '(arrives with issue 3)',
  help: 'mesh-authz explain: arrives with issue 3',
  async run() {
    process.stderr.write('mesh-authz explain: arrives with issue 3\n');
    return 2;
  },
};
