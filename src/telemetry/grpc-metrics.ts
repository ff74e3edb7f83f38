import { Counter, type Registry } from 'prom-client';
import { FastHistogram, type HistogramSeries } from './accumulators.js';
import { RPC_METHOD, RPC_SERVICE } from './attributes.js';

/**
 * The standard gRPC server metrics dashboards already chart (the names and labels of go-grpc-prometheus /
 * grpc-ecosystem's Prometheus middleware): `grpc_server_started_total`, `grpc_server_handled_total{grpc_code}`,
 * `grpc_server_msg_received_total`, `grpc_server_msg_sent_total` and the `grpc_server_handling_seconds` histogram,
 * labelled `grpc_type="unary"`, `grpc_service="envoy.service.auth.v3.Authorization"`, `grpc_method="Check"`.
 *
 * They are fed from the decided Check (the pipeline's outcome), so they count every Check the service answered:
 * the gRPC status is `OK` for an allow and a deny alike (the verdict is in the CheckResponse), and handling time
 * is the pipeline's time from request to response. Speed: plain counters bumped per Check, handed to prom-client
 * when Prometheus scrapes (see accumulators.ts).
 */

/** The default Prometheus client buckets, the ones gRPC dashboards assume. */
const HANDLING_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BASE = { grpc_type: 'unary', grpc_service: RPC_SERVICE, grpc_method: RPC_METHOD };

export class GrpcServerMetrics {
  private total = 0;
  private readonly handling: HistogramSeries;

  constructor(registry: Registry) {
    const registers = [registry];
    // One running total feeds four counters that are equal by construction (unary: one message in, one out);
    // each remembers how much of it it has already counted.
    const counter = (name: string, help: string, extra: Record<string, string> = {}) => {
      let seen = 0;
      const source = this;
      return new Counter({
        name,
        help,
        labelNames: [...Object.keys(BASE), ...Object.keys(extra)],
        registers,
        collect() {
          const now = source.total;
          this.inc({ ...BASE, ...extra }, now - seen);
          seen = now;
        },
      });
    };
    counter('grpc_server_started_total', 'RPCs started on the server.');
    counter('grpc_server_handled_total', 'RPCs completed on the server, by gRPC status code.', { grpc_code: 'OK' });
    counter('grpc_server_msg_received_total', 'RPC stream messages received on the server.');
    counter('grpc_server_msg_sent_total', 'RPC stream messages sent by the server.');
    const histogram = new FastHistogram(
      'grpc_server_handling_seconds',
      'Response latency of RPCs handled by the server, in seconds.',
      'grpc_method',
      HANDLING_BUCKETS,
      [RPC_METHOD],
      { grpc_type: BASE.grpc_type, grpc_service: BASE.grpc_service },
    );
    registry.registerMetric(histogram.asMetric());
    this.handling = histogram.seriesFor(RPC_METHOD);
  }

  /** One Check answered after `seconds`. */
  onCheck(seconds: number): void {
    this.total++;
    this.handling.observe(seconds);
  }
}
