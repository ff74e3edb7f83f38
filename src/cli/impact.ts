import { loadDiscoveryContext, PolicyInputError } from '../discovery/context.js';
import { policyEngine } from '../discovery/engine.js';
import { FlowFileError, readFlowFiles } from '../discovery/flows-file.js';
import { replayImpact, workloadResolver } from '../discovery/impact.js';
import { formatImpact, IMPACT_FORMATS, type ImpactFormat } from '../discovery/impact-format.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';

const HELP = `mesh-authz impact: replay recorded traffic against a proposed policy change

Usage:
  mesh-authz impact --config <file> --flows <file.jsonl> [--flows …] --proposed <dir|file> [--proposed …]
                    [--max-new-denies N] [--format text|json|markdown]

Every flow recorded in monitor mode is evaluated twice, with the engine, path normalization, trust domain and
known workloads of the config (as 'serve' does): against the policies in force (the config's policy.paths) and
against the proposed set. Flows whose decision changes are reported, grouped by caller -> callee -> operation,
with request counts and the deciding policy and rule on each side.

Options:
  --config <file>          the service's config: the policies in force and how they are evaluated
  --flows <file>           flows recorded in monitor mode (JSON Lines); repeat for several files
  --proposed <dir|file>    the whole proposed policy set (a checkout's policy folder); repeat for several
  --max-new-denies <n>     newly denied caller -> callee -> operation groups tolerated (default 0)
  --format <f>             text (default), json, or markdown (a pull-request comment)

Exit codes: 0 the change denies no more recorded flows than allowed; 1 it newly denies more than
--max-new-denies (the outage it would cause is listed); 2 bad input (config, flows or proposed policies).

Examples:
  # Gate a GitOps pull request on real traffic (CI): fails when any recorded flow would be newly denied.
  mesh-authz impact --config mesh-authz.yaml --flows flows.jsonl --proposed ./policies

  # Post the summary as a pull-request comment, tolerating two known-dead callers.
  mesh-authz impact --config mesh-authz.yaml --flows a.jsonl --flows b.jsonl \\
    --proposed ./policies --max-new-denies 2 --format markdown > impact.md`;

export const impactCommand: Command = {
  summary: 'replay recorded flows against proposed policies: what a change would deny or open',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        config: { type: 'string' },
        flows: { type: 'string', multiple: true },
        proposed: { type: 'string', multiple: true },
        'max-new-denies': { type: 'string' },
        format: { type: 'string' },
      },
      true,
    );
    if (positionals.length > 0) {
      throw new UsageError(`unexpected '${positionals[0]}': repeat --flows or --proposed for each file`);
    }
    if (values.config === undefined) throw new UsageError('--config is required (the policies in force)');
    if (values.flows === undefined) throw new UsageError('--flows is required');
    if (values.proposed === undefined) throw new UsageError('--proposed is required');
    const max = values['max-new-denies'] ?? '0';
    if (!/^\d+$/.test(max)) throw new UsageError(`--max-new-denies: expected a whole number ≥ 0, got '${max}'`);
    const format = (values.format ?? 'text') as ImpactFormat;
    if (!IMPACT_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${IMPACT_FORMATS.join(', ')}`);
    try {
      const engine = policyEngine;
      const ctx = await loadDiscoveryContext(values.config, engine);
      const loaded = await engine.loadPolicyPaths(values.proposed);
      const errors = loaded.issues.filter((i) => i.severity === 'error');
      if (errors.length > 0) {
        throw new PolicyInputError(
          `the proposed policies do not load:\n${errors.map((i) => `${i.file}:${i.line}: ${i.path}: ${i.message} [${i.code}]`).join('\n')}`,
        );
      }
      const { flows } = await readFlowFiles(values.flows);
      const current = engine.compile(ctx.policies, ctx.compile);
      const proposed = engine.compile(loaded.policies, ctx.compile);
      const report = replayImpact({
        flows,
        current: (w, r) => current.evaluate(w, r),
        proposed: (w, r) => proposed.evaluate(w, r),
        workload: workloadResolver(ctx.workloads),
      });
      const maxNewDenies = Number(max);
      const blocked = report.newlyDenied.length > maxNewDenies;
      process.stdout.write(formatImpact(report, { maxNewDenies, blocked }, format));
      return blocked ? 1 : 0;
    } catch (err) {
      if (err instanceof FlowFileError || err instanceof PolicyInputError) {
        process.stderr.write(`mesh-authz impact: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
  },
};
