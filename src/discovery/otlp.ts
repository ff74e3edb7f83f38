import type { Logger } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { destinationName, type FlowRecord, sourceName } from './types.js';

/**
 * OTLP logs export of flushed flows: one log record per flow record, body `source → destination`, the fields as
 * attributes. The exporter is the OTLP/HTTP protobuf one (endpoint and headers from the standard OTEL_* variables);
 * batching happens in the SDK's processor, off the Check path.
 */
export interface FlowLogSink {
  emit(records: readonly FlowRecord[]): void;
  /** Exports what is batched. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export function createOtlpFlowSink(exporter: LogRecordExporter = new OTLPLogExporter()): FlowLogSink {
  const provider = new LoggerProvider({ processors: [new BatchLogRecordProcessor({ exporter, maxQueueSize: 8192 })] });
  const logger: Logger = provider.getLogger('mesh-authz.discovery');
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
