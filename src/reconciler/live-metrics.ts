import { Counter, Gauge, Registry } from 'prom-client';

/** The live reconciler's own metrics, on their own registry (the server's metrics are not mixed in). */
export class ReconcilerMetrics {
  readonly registry = new Registry();
  readonly runs = new Counter({
    name: 'mesh_authz_reconcile_runs_total',
    help: 'Reconcile passes, by result (ok: every call succeeded; error: some API call failed).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly applied = new Counter({
    name: 'mesh_authz_reconcile_applied_total',
    help: 'Objects written with server-side apply.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly pruned = new Counter({
    name: 'mesh_authz_reconcile_pruned_total',
    help: 'Owned AuthorizationPolicies deleted because their Service is gone or no longer annotated.',
    registers: [this.registry],
  });
  readonly invalidServices = new Gauge({
    name: 'mesh_authz_reconcile_invalid_services',
    help: 'Annotated Services whose annotations are invalid (their last good policies are kept).',
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: 'mesh_authz_reconcile_watch_restarts_total',
    help: 'Watch restarts, by resource and reason (expired: 410 Gone, re-listed; error: re-listed; closed).',
    labelNames: ['resource', 'reason'] as const,
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    name: 'mesh_authz_reconcile_last_success_timestamp_seconds',
    help: 'When the last fully successful reconcile pass finished.',
    registers: [this.registry],
  });
}
