/**
 * Discovery: learn from observed traffic.
 *
 * - Monitor mode: {@link createFlowRecorder} returns a {@link FlowRecorder}, a `DecisionObserver` the server
 *   registers when `discovery.enabled`. It keeps a bounded flow table (source identity → destination workload,
 *   port, method, path template) and appends it to a JSON Lines file (and, optionally, OTLP logs).
 * - Offline: the `discover` and `audit` commands read those files to suggest least-privilege policies, draw the
 *   dependency map and measure how far the current policies are from least privilege.
 */
export { flowDestination, flowSource, observe } from './observe.js';
export { createOtlpFlowSink, type FlowLogSink } from './otlp.js';
export { createFlowRecorder, FlowRecorder, type FlowRecorderOptions } from './recorder.js';
export { DEFAULT_TABLE_LIMITS, type FlowObservation, FlowTable, type FlowTableLimits } from './table.js';
export { coarsen, isIdentifierSegment, pathTemplate } from './template.js';
export * from './types.js';
