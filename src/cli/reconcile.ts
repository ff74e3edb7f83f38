import { loadConfigFile } from '../config/load.js';
import {
  applyChanges,
  defaultOptions,
  diffOutput,
  formatServiceError,
  LiveReconciler,
  planPolicies,
  ReconcileError,
  type ReconcileOptions,
  readClusterState,
  renderChanges,
  startHealthServer,
} from '../reconciler/index.js';
import { createKubeApi, KubeError, loadKubeConnection } from '../sources/kube/index.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';

const help = `mesh-authz reconcile: annotated Services → Istio AuthorizationPolicy

GitOps (files in, files out):
  mesh-authz reconcile --from <dir|file> -o, --out <dir> [--check] [--diff]
    Writes <out>/mesh/<ns>.<name>.yaml (apply to the cluster) and <out>/mesh-authz/<ns>.<name>.yaml (load into
    mesh-authz); removes stale files it owns. --check: write nothing, exit 1 when <out> is out of date.
    --diff: print what would change (with --check, or alone: print and write nothing).

Live (against the Kubernetes API):
  mesh-authz reconcile --kube [--namespace ns]... [--kubeconfig file] [-l, --listen 127.0.0.1:9902]
    Watches Services, applies with server-side apply, prunes owned policies, records Events for invalid
    annotations, serves /healthz, /readyz and /metrics on --listen.

Options:
  -c, --config <file>          read policy.trustDomain and policy.rootNamespace from the mesh-authz config
  --trust-domain <td>          local trust domain for principals (default ${defaultOptions.trustDomain})
  --root-namespace <ns>        mesh root namespace (default ${defaultOptions.rootNamespace})
  --provider <name>            meshConfig extension provider for CUSTOM delegation (default mesh-authz)
  --groups-claim <claim>       end-user JWT claim holding groups (default groups)
  --default-deny               add an allow-nothing policy to every namespace with an annotated Service
  --default-deny-namespace ns  add it to this namespace (repeatable)
  --field-manager <name>       server-side apply field manager (default mesh-authz)
  --authz-namespace <ns>       namespace of the ConfigMap of server-evaluated policies (default mesh-authz)
  --resync-seconds <n>         full pass at least this often (default 300)

Examples:
  mesh-authz reconcile --from manifests/ -o generated/
  mesh-authz reconcile --from manifests/ -o generated/ --check --diff     # in CI
  mesh-authz reconcile --kube -l 0.0.0.0:9902 --provider mesh-authz`;

const options = {
  from: { type: 'string' },
  out: { type: 'string' },
  check: { type: 'boolean' },
  diff: { type: 'boolean' },
  kube: { type: 'boolean' },
  namespace: { type: 'string', multiple: true },
  kubeconfig: { type: 'string' },
  listen: { type: 'string' },
  config: { type: 'string' },
  'trust-domain': { type: 'string' },
  'root-namespace': { type: 'string' },
  provider: { type: 'string' },
  'groups-claim': { type: 'string' },
  'default-deny': { type: 'boolean' },
  'default-deny-namespace': { type: 'string', multiple: true },
  'field-manager': { type: 'string' },
  'authz-namespace': { type: 'string' },
  'resync-seconds': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseCommandArgs<typeof options>>['values'];

export const reconcileCommand: Command = {
  summary: 'turn annotated Services into AuthorizationPolicies (files or live)',
  help,
  options,
  async run(argv) {
    const { values } = parseCommandArgs(argv, options);
    const opts = reconcileOptions(values);
    if (!values.kube && (!values.from || !values.out)) {
      throw new UsageError('give --from and --out (GitOps), or --kube (live)');
    }
    try {
      if (values.kube) return await runLive(values, opts);
      return runGitOps(values.from!, values.out!, Boolean(values.check), Boolean(values.diff), opts);
    } catch (err) {
      if (!(err instanceof ReconcileError || err instanceof KubeError)) throw err;
      process.stderr.write(`mesh-authz reconcile: ${err.message}\n`);
      // Unreadable or malformed input is the caller's to fix (2); an API or disk failure happens at run time (1).
      return err.code === 'input_unreadable' || err.code === 'input_syntax' ? 2 : 1;
    }
  },
};

function reconcileOptions(values: Values): ReconcileOptions {
  const fromConfig = values.config ? loadConfigFile(values.config).config.policy : undefined;
  return {
    trustDomain: values['trust-domain'] ?? fromConfig?.trustDomain ?? defaultOptions.trustDomain,
    rootNamespace: values['root-namespace'] ?? fromConfig?.rootNamespace ?? defaultOptions.rootNamespace,
    provider: values.provider ?? defaultOptions.provider,
    groupsClaim: values['groups-claim'] ?? defaultOptions.groupsClaim,
    defaultDenyAll: Boolean(values['default-deny']),
    defaultDenyNamespaces: values['default-deny-namespace'] ?? [],
  };
}

/** Exit 0: up to date / written. 1: Service errors (the rest is written) or, with --check, out of date. */
export function runGitOps(from: string, out: string, check: boolean, diff: boolean, opts: ReconcileOptions): number {
  const plan = planPolicies(readClusterState(from), opts);
  const result = diffOutput(plan, out);
  const errors = [...plan.errors, ...result.errors];
  for (const e of errors) process.stderr.write(`mesh-authz reconcile: ${formatServiceError(e)}\n`);
  if (diff) process.stdout.write(renderChanges(result.changes));
  if (check) {
    for (const c of result.changes) process.stderr.write(`mesh-authz reconcile: out of date: ${c.op} ${c.file}\n`);
    return result.changes.length > 0 || errors.length > 0 ? 1 : 0;
  }
  if (!diff) {
    applyChanges(out, result.changes);
    const counts = ['create', 'update', 'delete'].map((op) => result.changes.filter((c) => c.op === op).length);
    process.stderr.write(
      `mesh-authz reconcile: ${plan.policies.length} policies; ${counts[0]} created, ${counts[1]} updated, ${counts[2]} removed\n`,
    );
  }
  return errors.length > 0 ? 1 : 0;
}

async function runLive(values: Values, opts: ReconcileOptions): Promise<number> {
  const listen = values.listen ?? '127.0.0.1:9902';
  const at = listen.lastIndexOf(':');
  const port = Number(listen.slice(at + 1));
  if (at < 0 || !Number.isInteger(port)) throw new UsageError(`--listen: expected host:port, got '${listen}'`);
  const resync = Number(values['resync-seconds'] ?? '300');
  if (!Number.isFinite(resync) || resync < 0) throw new UsageError('--resync-seconds: expected a number ≥ 0');
  const api = createKubeApi(loadKubeConnection(values.kubeconfig));
  const reconciler = new LiveReconciler(api, {
    ...opts,
    namespaces: values.namespace ?? [],
    fieldManager: values['field-manager'] ?? 'mesh-authz',
    authzNamespace: values['authz-namespace'] ?? 'mesh-authz',
    configMapName: 'mesh-authz-generated',
    debounceMs: 200,
    resyncMs: resync * 1000,
    log: (level, msg, fields) =>
      process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields })}\n`),
  });
  const health = await startHealthServer(reconciler, listen.slice(0, at).replace(/^\[|\]$/g, ''), port);
  reconciler.start();
  const host = listen.slice(0, at);
  process.stderr.write(`mesh-authz reconcile: live; health and metrics on ${host}:${health.port}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await reconciler.stop();
  await health.close();
  return 0;
}
