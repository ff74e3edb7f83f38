import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MeshAuthzError } from '../errors.js';
import { policyName } from '../policy/types.js';
import { flowRequest, workloadOf } from './attributes.js';
import type { EngineCompileOptions, PolicyEngine } from './engine.js';
import { buildMap, renderSvg, toDot, toMermaid } from './map.js';
import type { PolicyEntry } from './policy-model.js';
import { buildReport, type DiscoveryReport, formatReport, type KnownWorkload } from './report.js';
import { describeFlow, type Granularity, type Suggestion, suggestPolicies } from './suggest.js';
import type { FlowRecord } from './types.js';
import { suggestionYaml } from './yaml-out.js';

/**
 * `discover`, as a function: flows (+ the current policies) → suggested policies, report and dependency map,
 * written to a folder. Every suggested policy is validated by the engine as the cluster would, and the suggestion
 * is compiled and checked to allow every learned flow before anything is written: a suggestion that would break
 * traffic it was learned from is a bug, reported as such.
 */

export type DiscoverErrorCode = 'invalid_suggestion' | 'suggestion_incomplete';

export class DiscoverError extends MeshAuthzError<DiscoverErrorCode> {
  override readonly name = 'DiscoverError';
  constructor(code: DiscoverErrorCode, message: string) {
    super(code, message);
  }
}

export interface DiscoverOptions {
  readonly flows: readonly FlowRecord[];
  readonly granularity: Granularity;
  readonly outDir: string;
  readonly learnDenied?: boolean;
  readonly excludeSources?: readonly string[];
  readonly current: readonly PolicyEntry[];
  readonly workloads: readonly KnownWorkload[];
  readonly compile: EngineCompileOptions;
  /** Graphviz binary; SVG is skipped when it is absent. */
  readonly dotBinary?: string;
}

export interface DiscoverResult {
  readonly suggestion: Suggestion;
  readonly report: DiscoveryReport;
  /** Files written, in order. */
  readonly files: readonly string[];
  /** False when Graphviz is not installed (no SVG). */
  readonly svg: boolean;
}

export async function runDiscover(o: DiscoverOptions, engine: PolicyEngine): Promise<DiscoverResult> {
  const suggestion = suggestPolicies(o.flows, {
    granularity: o.granularity,
    learnDenied: o.learnDenied ?? false,
    excludeSources: o.excludeSources ?? [],
    workloads: o.workloads,
  });
  const problems: string[] = [];
  for (const sp of suggestion.policies) {
    for (const issue of engine.validatePolicy(sp.policy, null)) {
      if (issue.severity === 'error')
        problems.push(`${policyName(sp.policy.metadata)}: ${issue.path}: ${issue.message}`);
    }
  }
  if (problems.length > 0) {
    throw new DiscoverError('invalid_suggestion', `the suggested policies do not validate:\n${problems.join('\n')}`);
  }
  const suggestedEntries: PolicyEntry[] = suggestion.policies.map((p) => ({
    policy: p.policy,
    source: null,
    dryRun: false,
  }));
  const suggestedSet = engine.compile(suggestedEntries, o.compile);
  const missed = suggestion.learned.filter((f) => !suggestedSet.evaluate(workloadOf(f), flowRequest(f)).allowed);
  if (missed.length > 0) {
    throw new DiscoverError(
      'suggestion_incomplete',
      `the suggestion would deny flows it was learned from:\n${missed.map(describeFlow).join('\n')}`,
    );
  }
  const currentSet = o.current.length > 0 ? engine.compile(o.current, o.compile) : null;
  const report = buildReport({
    flows: o.flows,
    suggestion,
    current: o.current,
    evaluate: currentSet ? (w, r) => currentSet.evaluate(w, r) : undefined,
    evaluateSuggested: (w, r) => suggestedSet.evaluate(w, r),
    workloads: o.workloads,
    reach: o.compile,
  });
  const map = buildMap(o.flows);
  const dot = toDot(map);
  const svg = await renderSvg(dot, o.dotBinary);

  await mkdir(o.outDir, { recursive: true });
  const header = [
    `Suggested by mesh-authz discover (granularity: ${o.granularity}) from ${o.flows.length} observed flows.`,
    'Review before applying: each rule lists the flows it was learned from.',
  ];
  const outputs: Array<[string, string]> = [
    ['policies.yaml', suggestionYaml(suggestion, header)],
    ['report.md', formatReport(report)],
    ['report.json', `${JSON.stringify(report, null, 2)}\n`],
    ['map.mmd', toMermaid(map)],
    ['map.dot', dot],
  ];
  if (svg !== null) outputs.push(['map.svg', svg]);
  const files: string[] = [];
  for (const [name, text] of outputs) {
    const file = join(o.outDir, name);
    await writeFile(file, text, 'utf8');
    files.push(file);
  }
  return { suggestion, report, files, svg: svg !== null };
}
