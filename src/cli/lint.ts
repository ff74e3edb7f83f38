import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import {
  formatIssues,
  lintPolicies,
  PATH_NORMALIZATIONS,
  type PathNormalization,
  type WorkloadRef,
} from '../policy/index.js';
import { ISTIO_DEFAULTS } from '../policy/options.js';
import { loadPolicyPaths } from '../sources/policy-files.js';
import { type Command, parseCommandArgs, UsageError } from './args.js';

const HELP = `mesh-authz lint <paths...> [options]

Validates AuthorizationPolicy files as the cluster would (errors, with file:line and field path) and warns about
what is legal but dangerous or dead. Exit 1 when there are errors, 0 otherwise.

Options:
  --workloads <file>            YAML/JSON list of known workloads ({namespace, labels}); reports selectors that
                                match none of them and workloads no ALLOW policy covers
  --path-normalization <mode>   ${PATH_NORMALIZATIONS.join(' | ')} (default ${ISTIO_DEFAULTS.pathNormalization})
  --root-namespace <ns>         mesh root namespace (default ${ISTIO_DEFAULTS.rootNamespace})
  -f, --format text|json        output format (default text)

Examples:
  mesh-authz lint examples/policies/
  mesh-authz lint -f json --workloads examples/config.yaml policies/*.yaml`;

const options = {
  workloads: { type: 'string' },
  'path-normalization': { type: 'string' },
  'root-namespace': { type: 'string' },
  format: { type: 'string' },
} as const;

/** Reads a workload list: a YAML/JSON list, or `{workloads: [...]}`, or a config file's `policy.workloads`. */
export async function readWorkloads(file: string): Promise<WorkloadRef[]> {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read workloads from ${file}: ${(err as Error).message}`);
  }
  const obj = doc as { workloads?: unknown; policy?: { workloads?: unknown } } | null;
  const list = Array.isArray(doc) ? doc : (obj?.workloads ?? obj?.policy?.workloads);
  if (!Array.isArray(list)) throw new UsageError(`${file}: expected a list of workloads ({namespace, labels})`);
  return list.map((w, i) => {
    const item = w as { namespace?: unknown; labels?: unknown };
    if (typeof item?.namespace !== 'string') throw new UsageError(`${file}: workload ${i} has no namespace`);
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries((item.labels ?? {}) as Record<string, unknown>)) labels[k] = String(v);
    return { namespace: item.namespace, labels };
  });
}

export const lintCommand: Command = {
  summary: 'validate and lint AuthorizationPolicy files',
  help: HELP,
  options,
  positionals: true,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, options, true);
    if (positionals.length === 0) throw new UsageError('give at least one policy file or folder');
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError('--format must be text or json');
    const mode = (values['path-normalization'] ?? ISTIO_DEFAULTS.pathNormalization) as PathNormalization;
    if (!PATH_NORMALIZATIONS.includes(mode))
      throw new UsageError(`--path-normalization must be one of ${PATH_NORMALIZATIONS.join(', ')}`);
    const workloads = values.workloads ? await readWorkloads(values.workloads) : undefined;

    const loaded = await loadPolicyPaths(positionals);
    const issues = [
      ...loaded.issues,
      ...lintPolicies(loaded.policies, {
        workloads,
        workloadsFile: values.workloads,
        pathNormalization: mode,
        rootNamespace: values['root-namespace'] ?? ISTIO_DEFAULTS.rootNamespace,
      }),
    ];
    const errors = issues.filter((i) => i.severity === 'error').length;
    const warnings = issues.length - errors;
    if (format === 'json') {
      process.stdout.write(
        `${JSON.stringify({ policies: loaded.policies.length, errors, warnings, issues, notes: loaded.notes }, null, 2)}\n`,
      );
    } else {
      const lines = [formatIssues(issues), ...loaded.notes.map((n) => `note: ${n}`)].filter((l) => l !== '');
      lines.push(
        `${loaded.policies.length} valid polic${loaded.policies.length === 1 ? 'y' : 'ies'}, ${errors} error(s), ${warnings} warning(s)`,
      );
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return errors > 0 ? 1 : 0;
  },
};
