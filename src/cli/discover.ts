import { relative } from 'node:path';
import { loadDiscoveryContext, PolicyInputError } from '../discovery/context.js';
import { DiscoverError, runDiscover } from '../discovery/discover.js';
import { policyEngine } from '../discovery/engine.js';
import { FlowFileError, readFlowFiles } from '../discovery/flows-file.js';
import { GRANULARITIES, type Granularity } from '../discovery/suggest.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';

const HELP = `mesh-authz discover: suggest least-privilege AuthorizationPolicies from observed flows

Usage:
  mesh-authz discover --flows <file.jsonl>... [options]

Options:
  --flows <file>           flows recorded in monitor mode (JSON Lines); repeat, or list several files after it
  --granularity <g>        namespace | workload | operation (default: workload)
  -c, --config <file>      the service's config: current policies, known workloads, trust domain
  -o, --out <dir>          where to write the results (default: ./discovery)
  --learn-denied           also learn flows the current policy denied (default: only allowed flows are learned)
  --exclude-source <id>    never learn this caller (ns/sa, SPIFFE ID, or a * prefix/suffix pattern); repeatable

Writes policies.yaml (each rule commented with the flows it covers), report.md and report.json (per workload:
flows, denials, rules never exercised, attack-surface reduction), map.mmd and map.dot, and map.svg when
Graphviz (/usr/bin/dot) is installed. Exit 0 on success, 1 when the suggestion fails its own checks, 2 on bad input.

Examples:
  mesh-authz discover --flows flows.jsonl -c examples/config.yaml
  mesh-authz discover --flows day1.jsonl day2.jsonl --granularity operation -o suggested/`;

const options = {
  flows: { type: 'string', multiple: true },
  granularity: { type: 'string' },
  config: { type: 'string' },
  out: { type: 'string' },
  'learn-denied': { type: 'boolean' },
  'exclude-source': { type: 'string', multiple: true },
} as const;

export const discoverCommand: Command = {
  summary: 'suggest least-privilege policies, a report and a dependency map from observed flows',
  help: HELP,
  options,
  positionals: true,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, options, true);
    const files = [...(values.flows ?? []), ...positionals];
    if (values.flows === undefined || files.length === 0) throw new UsageError('--flows is required');
    const granularity = (values.granularity ?? 'workload') as Granularity;
    if (!GRANULARITIES.includes(granularity)) {
      throw new UsageError(`--granularity must be one of ${GRANULARITIES.join(', ')}`);
    }
    try {
      const engine = policyEngine;
      const ctx = await loadDiscoveryContext(values.config, engine);
      const { flows, drops } = await readFlowFiles(files);
      const result = await runDiscover(
        {
          flows,
          granularity,
          outDir: values.out ?? 'discovery',
          learnDenied: values['learn-denied'] ?? false,
          excludeSources: values['exclude-source'] ?? [],
          current: ctx.policies,
          workloads: ctx.workloads,
          compile: ctx.compile,
        },
        engine,
      );
      const r = result.report;
      const s = r.surface;
      const out = [
        `${flows.length} flows (${r.requests} requests): learned ${r.learned}, suggested ${result.suggestion.policies.length} ${granularity}-level policies.`,
        `attack surface: ${s.before} → ${s.after} allowed caller→workload pairs (${s.reduction} fewer, ${(s.reductionRatio * 100).toFixed(1)}%).`,
      ];
      for (const f of r.wouldBeDenied) out.push(`would be denied: ${f}`);
      for (const d of drops) {
        if (d.evictedFlows > 0)
          out.push(`note: the recorder evicted ${d.evictedFlows} flows (${d.evictedRequests} requests)`);
      }
      if (!result.svg) out.push('note: Graphviz (dot) is not installed: map.svg not written');
      out.push(...result.files.map((f) => `wrote ${relative(process.cwd(), f) || f}`));
      process.stdout.write(`${out.join('\n')}\n`);
      return 0;
    } catch (err) {
      if (err instanceof FlowFileError || err instanceof PolicyInputError) {
        process.stderr.write(`mesh-authz discover: ${err.message}\n`);
        return 2;
      }
      if (err instanceof DiscoverError) {
        process.stderr.write(`mesh-authz discover: ${err.message}\n`);
        return 1;
      }
      throw err;
    }
  },
};
