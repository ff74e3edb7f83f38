import { Counter, Gauge, type Registry } from 'prom-client';

/** What the Kubernetes sources report on `/metrics` (registered into the server's registry). */
export class KubernetesMetrics {
  readonly watchRestarts: Counter<'resource' | 'reason'>;
  readonly policyRefused: Counter;
  readonly snapshotRefused: Counter<'kind' | 'reason'>;

  constructor(
    registry: Registry | undefined,
    state: { stale: () => { policies: boolean; workloads: boolean }; pods: () => number },
  ) {
    const registers = registry ? [registry] : [];
    this.watchRestarts = new Counter({
      name: 'mesh_authz_kube_watch_restarts_total',
      help: 'Kubernetes watches restarted, by resource and reason (expired = 410 Gone re-list, error = reconnect)',
      labelNames: ['resource', 'reason'],
      registers,
    });
    this.policyRefused = new Counter({
      name: 'mesh_authz_kube_policy_refused_total',
      help: 'AuthorizationPolicy sets from the API server refused as invalid (the last good set kept serving)',
      registers,
    });
    this.snapshotRefused = new Counter({
      name: 'mesh_authz_snapshot_refused_total',
      help: 'Last-good snapshots refused at start, by kind and reason (corrupt, foreign)',
      labelNames: ['kind', 'reason'],
      registers,
    });
    new Gauge({
      name: 'mesh_authz_source_stale',
      help: '1 while a source serves its last-good snapshot because the live source has not answered yet',
      labelNames: ['source'],
      aggregator: 'max',
      registers,
      collect() {
        const s = state.stale();
        this.set({ source: 'policies' }, s.policies ? 1 : 0);
        this.set({ source: 'workloads' }, s.workloads ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mesh_authz_workload_registry_pods',
      help: 'Pods indexed by the Kubernetes workload registry',
      aggregator: 'max',
      registers,
      collect() {
        this.set(state.pods());
      },
    });
  }
}
