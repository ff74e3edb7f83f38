import type { Resource } from '@opentelemetry/resources';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { ExportAccount } from '../telemetry/export-accounting.js';
import { createOtlpLogs } from '../telemetry/otlp-decisions.js';
import { buildResource } from '../telemetry/resource.js';
import { destinationName, type FlowRecord, sourceName } from './types.js';

/**
 * OTLP logs export of flushed flows: one log record per flow record, body `source → destination`, the fields as
 * attributes. The exporter is the OTLP/HTTP protobuf one (endpoint and headers from the standard OTEL_* variables);
 * batching happens in the SDK's processor, off the Check path. `serve` hands in the process's one resource and
 * the export accounting (`mesh_authz_otlp_log_records_*_total{stream="flows"}`).
 */
export interface FlowLogSink {
  emit(records: readonly FlowRecord[]): void;
  /** Exports what is batched. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface OtlpFlowOptions {
  readonly resource?: Resource;
  readonly account?: ExportAccount;
}

export function createOtlpFlowSink(exporter?: LogRecordExporter, options: OtlpFlowOptions = {}): FlowLogSink {
  const resource =
    options.resource ?? buildResource({ serviceName: 'mesh-authz', version: 'unknown', env: process.env });
  const { logger, provider } = createOtlpLogs({
    resource,
    scope: 'mesh-authz.discovery',
    ...(exporter === undefined ? {} : { exporter }),
    ...(options.account === undefined ? {} : { account: options.account }),
  });
  return {
    emit(records) {
      for (const r of records) {
        logger.emit({
          eventName: 'mesh_authz.flow',
          body: `${sourceName(r.source)} -> ${destinationName(r.destination)} ${r.method} ${r.path}`,
          attributes: {
            'source.principal': r.source.spiffeId,
            'source.namespace': r.source.namespace,
            'source.service_account': r.source.serviceAccount,
            'destination.namespace': r.destination.namespace,
            'destination.workload': r.destination.workload,
            'destination.port': r.port,
            'http.request.method': r.method,
            'url.template': r.path,
            'flow.count': r.count,
            'flow.allowed': r.decisions.allowed,
            'flow.denied': r.decisions.denied,
            'flow.would_deny': r.decisions.wouldDeny,
            'flow.groups': [...r.groups],
            'flow.policy': r.policy,
            'flow.first_seen': r.firstSeen,
            'flow.last_seen': r.lastSeen,
          },
          timestamp: new Date(r.lastSeen),
        });
      }
    },
    async flush() {
      await provider.forceFlush();
    },
    async close() {
      await provider.forceFlush();
      await provider.shutdown();
    },
  };
}
