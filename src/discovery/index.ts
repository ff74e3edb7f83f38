/**
 * Discovery: learn from observed traffic.
 *
 * - Monitor mode: {@link createFlowRecorder} returns a {@link FlowRecorder}, a `DecisionObserver` that `serve`
 *   registers when `discovery.enabled`. It keeps a bounded {@link FlowTable} (source identity → destination
 *   workload, port, method, path template; groups, counts, first/last seen, decisions) and appends what it saw to
 *   a JSON Lines file every `flushIntervalSeconds`, optionally exporting the same records as OTLP logs.
 * - `discover`: {@link readFlowFiles} → {@link suggestPolicies} (least-privilege ALLOW policies at namespace,
 *   workload or operation granularity) → {@link buildReport} (per-workload findings, attack-surface figure) and
 *   {@link buildMap} (Mermaid, DOT, SVG); {@link runDiscover} does it all and writes the files.
 * - `audit`: {@link audit} (coverage, allow-anything rules, stale dry-runs, unused rules, cross-namespace access).
 * - `impact`: {@link replayImpact} replays recorded flows against the policies in force and a proposed set.
 */

export { flowRequest, peerOf } from './attributes.js';
export {
  type AllowAnythingKind,
  type AuditInput,
  type AuditReport,
  allowAnythingKind,
  audit,
  formatAudit,
} from './audit.js';
export { type DiscoveryContext, loadDiscoveryContext, PolicyInputError } from './context.js';
export { DiscoverError, type DiscoverOptions, type DiscoverResult, runDiscover } from './discover.js';
export { type EngineCompileOptions, type PolicyEngine, policyEngine } from './engine.js';
export { FlowFileError, type FlowSet, mergeFlows, readFlowFiles } from './flows-file.js';
export { type ImpactChange, type ImpactInput, type ImpactReport, replayImpact, workloadResolver } from './impact.js';
export { formatImpact, IMPACT_FORMATS, type ImpactFormat } from './impact-format.js';
export { buildMap, type DependencyMap, renderSvg, toDot, toMermaid } from './map.js';
export { flowDestination, flowSource, observe } from './observe.js';
export { createOtlpFlowSink, type FlowLogSink } from './otlp.js';
export { DRY_RUN_SINCE_ANNOTATION, type PolicyDoc, type PolicyEntry } from './policy-model.js';
export { canReach, type ReachOptions, type SurfaceFigure, surface } from './reach.js';
export { createFlowRecorder, FlowRecorder, type FlowRecorderOptions } from './recorder.js';
export { buildReport, type DiscoveryReport, formatReport, type KnownWorkload } from './report.js';
export { GRANULARITIES, type Granularity, type Suggestion, suggestPolicies } from './suggest.js';
export { DEFAULT_TABLE_LIMITS, type FlowObservation, FlowTable, type FlowTableLimits } from './table.js';
export { coarsen, isIdentifierSegment, pathTemplate } from './template.js';
export * from './types.js';
export { suggestionYaml } from './yaml-out.js';
