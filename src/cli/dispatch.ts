import { commands } from './commands.js';
import { EXIT, EXIT_CODES_HELP, knownError } from './exit-codes.js';

async function usage(): Promise<string> {
  const lines = ['mesh-authz: Envoy ext_authz service enforcing Istio AuthorizationPolicy', '', 'Usage:'];
  for (const [name, load] of Object.entries(commands)) {
    const cmd = await load();
    lines.push(`  mesh-authz ${name.padEnd(15)}${cmd.summary}`);
  }
  lines.push(
    '  mesh-authz help <command> a command’s options and examples (or `mesh-authz <command> --help`)',
    '',
    'Every command takes -h/--help and -V/--version.',
    '',
    EXIT_CODES_HELP,
    '',
    'Examples:',
    '  mesh-authz serve -c examples/config.yaml',
    '  mesh-authz check -c examples/config.yaml -r examples/requests/denied.json',
    '  mesh-authz help explain',
  );
  return lines.join('\n');
}

async function version(): Promise<string> {
  const { packageVersion } = await import('./version.js');
  return packageVersion();
}

/** Flags every command takes; only before a `--` (after it, everything is an argument). */
function hasFlag(args: readonly string[], ...flags: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => flags.includes(a));
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${await usage()}\n`);
    return name === undefined ? EXIT.badInput : EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${await version()}\n`);
    return EXIT.ok;
  }
  if (name === 'help') {
    const [topic] = rest;
    const load = topic === undefined ? undefined : commands[topic];
    if (topic === undefined || !load) {
      if (topic !== undefined) process.stderr.write(`mesh-authz help: unknown command '${topic}'\n\n`);
      process.stdout.write(`${await usage()}\n`);
      return topic === undefined ? EXIT.ok : EXIT.badInput;
    }
    process.stdout.write(`${(await load()).help}\n`);
    return EXIT.ok;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`mesh-authz: unknown command '${name}'\n\n${await usage()}\n`);
    return EXIT.badInput;
  }
  const command = await load();
  if (hasFlag(rest, '--help', '-h')) {
    process.stdout.write(`${command.help}\n`);
    return EXIT.ok;
  }
  if (hasFlag(rest, '--version', '-V')) {
    process.stdout.write(`${await version()}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    const known = knownError(err);
    if (!known) throw err;
    const usageHint = known.code === EXIT.badInput && (err as Error).name === 'UsageError' ? `\n\n${command.help}` : '';
    process.stderr.write(`mesh-authz ${name}: ${known.message}${usageHint}\n`);
    return known.code;
  }
}
