import { audit, formatAudit } from '../discovery/audit.js';
import { loadDiscoveryContext, PolicyInputError } from '../discovery/context.js';
import { policyEngine } from '../discovery/engine.js';
import { FlowFileError, readFlowFiles } from '../discovery/flows-file.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';

const HELP = `mesh-authz audit: how open is the mesh?

Usage:
  mesh-authz audit --config <file> [--flows <file.jsonl>...] [--format text|json] [--min-coverage 0.9]

Options:
  -c, --config <file>      the service's config: policies and known workloads (required)
  --flows <file>           flows recorded in monitor mode; repeat, or list several files after it
  -f, --format <f>         text (default) or json (for CI)
  --min-coverage <ratio>   fail below this share of workloads with an enforced ALLOW policy (default 0.9)
  --max-dry-run-days <n>   flag policies staged in dry-run for longer (default 14)

Reports coverage, allow-anything rules, long-running dry-run policies (annotation mesh-authz.io/dry-run-since,
else metadata.creationTimestamp), rules no observed flow exercised, and workloads accepting other namespaces.
Exit 0 when coverage meets the threshold, 1 below it, 2 on bad input.

Examples:
  mesh-authz audit -c examples/config.yaml
  mesh-authz audit -c config.yaml --flows flows.jsonl -f json --min-coverage 1`;

const options = {
  config: { type: 'string' },
  flows: { type: 'string', multiple: true },
  format: { type: 'string' },
  'min-coverage': { type: 'string' },
  'max-dry-run-days': { type: 'string' },
} as const;

function ratio(text: string | undefined, name: string, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > max) {
    throw new UsageError(`${name} must be a number between 0 and ${max}`);
  }
  return n;
}

export const auditCommand: Command = {
  summary: 'audit coverage, allow-anything rules, stale dry-runs, unused rules, cross-namespace access',
  help: HELP,
  options,
  positionals: true,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, options, true);
    if (values.config === undefined) throw new UsageError('--config is required');
    if (positionals.length > 0 && values.flows === undefined) {
      throw new UsageError(`unexpected argument '${positionals[0]}'`);
    }
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError('--format must be text or json');
    const minCoverage = ratio(values['min-coverage'], '--min-coverage', 0.9, 1);
    const maxDryRunDays = ratio(values['max-dry-run-days'], '--max-dry-run-days', 14, 36500);
    const flowFiles = [...(values.flows ?? []), ...positionals];
    try {
      const engine = policyEngine;
      const ctx = await loadDiscoveryContext(values.config, engine);
      const flows = flowFiles.length > 0 ? (await readFlowFiles(flowFiles)).flows : null;
      const set = ctx.policies.length > 0 ? engine.compile(ctx.policies, ctx.compile) : null;
      const report = audit({
        policies: ctx.policies,
        workloads: ctx.workloads,
        flows,
        evaluate: set ? (w, r) => set.evaluate(w, r) : undefined,
        reach: ctx.compile,
        now: Date.now(),
        maxDryRunDays,
        minCoverage,
      });
      process.stdout.write(format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatAudit(report));
      return report.passed ? 0 : 1;
    } catch (err) {
      if (err instanceof FlowFileError || err instanceof PolicyInputError) {
        process.stderr.write(`mesh-authz audit: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
  },
};
