import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHORT_FLAGS, withShortFlags } from '../../src/cli/args.js';
import { commands } from '../../src/cli/commands.js';
import { completionScript } from '../../src/cli/completion.js';
import { main } from '../../src/cli/dispatch.js';
import { type BuiltCli, buildCli, runCli } from '../support/built-cli.js';
import { capture } from '../support/capture.js';
import { issueLeaf, makeCa } from '../support/tls-pki.js';

/**
 * What people expect of a CLI: --version and help everywhere, examples in every help, the same short flags in every
 * command, shell completion, one exit-code map, and clear one-line errors (no stack trace, no stray library log line)
 * for the mistakes people make. Process-level behaviour uses the built binary; the rest runs in-process.
 */

const ROOT = join(import.meta.dirname, '../..');
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const names = Object.keys(commands);
let cli: BuiltCli;
let dir: string;
let blocker: Server;
let usedPort: number;
beforeAll(async () => {
  cli = buildCli('cli-habits');
  dir = mkdtempSync(join(tmpdir(), 'mesh-authz-habits-'));
  blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  usedPort = (blocker.address() as { port: number }).port;
}, 120_000);
afterAll(async () => {
  cli.cleanup();
  rmSync(dir, { recursive: true, force: true });
  await new Promise<void>((r) => blocker.close(() => r()));
});

describe('help and version', () => {
  it('-V/--version at the top level and on every command', async () => {
    for (const argv of [
      ['--version'],
      ['-V'],
      ...names.flatMap((n) => [
        [n, '--version'],
        [n, '-V'],
      ]),
    ]) {
      const r = await capture(() => main(argv));
      expect([r.code, r.out], argv.join(' ')).toEqual([0, `${version}\n`]);
    }
  });

  it('`help <command>` prints the same help as `<command> --help`; every help ends with examples', async () => {
    for (const name of names) {
      const viaHelp = await capture(() => main(['help', name]));
      const viaFlag = await capture(() => main([name, '-h']));
      expect(viaHelp.code).toBe(0);
      expect(viaHelp.out).toBe(viaFlag.out);
      expect(viaHelp.out, name).toMatch(/\nExamples:\n( {2}\S.*\n)+$/);
      for (const line of viaHelp.out.slice(viaHelp.out.lastIndexOf('Examples:')).split('\n').slice(1, -1))
        expect(line, name).toMatch(/^ {2}(mesh-authz |source <\(mesh-authz |envoy-request-dump \| mesh-authz )/);
    }
    const top = await capture(() => main(['help']));
    expect(top.out).toMatch(/\nExamples:\n( {2}mesh-authz .*\n)+$/);
    expect(top.out).toContain('Exit codes (every command):');
    const unknown = await capture(() => main(['help', 'nope']));
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("unknown command 'nope'");
  });

  it('short flags mean the same in every command (-c is --config everywhere), and explain accepts -c', async () => {
    for (const name of names) {
      const options = withShortFlags((await commands[name]!()).options);
      for (const [long, spec] of Object.entries(options)) {
        if (spec.short !== undefined) expect(SHORT_FLAGS[long], `${name} --${long}`).toBe(spec.short);
        if (long in SHORT_FLAGS) expect(spec.short, `${name} --${long}`).toBe(SHORT_FLAGS[long]);
      }
    }
    const configTakers = [];
    for (const name of names) if ('config' in (await commands[name]!()).options) configTakers.push(name);
    expect(configTakers.sort()).toEqual(['audit', 'check', 'discover', 'explain', 'impact', 'reconcile', 'serve']);
    const r = await capture(() =>
      main(['explain', '-c', 'examples/config.yaml', '-r', 'examples/requests/denied.json', '-f', 'json']),
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ decision: { allowed: false } });
  });
});

describe('completion', () => {
  it('bash: the script parses (bash -n) and completes commands, flags and flag values', async () => {
    const file = join(dir, 'mesh-authz.bash');
    writeFileSync(file, await completionScript('bash', commands));
    execFileSync('bash', ['-n', file]);
    const complete = (...words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mesh_authz; printf '%s\\n' "\${COMPREPLY[@]}"`,
          'complete',
          file,
          ...words,
        ],
        { encoding: 'utf8', cwd: ROOT },
      )
        .split('\n')
        .filter(Boolean);
    expect(complete('mesh-authz', 'ch')).toEqual(['check']);
    expect(complete('mesh-authz', 'help', 'ex')).toEqual(['explain']);
    expect(complete('mesh-authz', 'explain', '--con')).toEqual(['--config']);
    expect(complete('mesh-authz', 'serve', '--')).toEqual(
      expect.arrayContaining(['--config', '--listen', '--admin', '--help', '--version']),
    );
    expect(complete('mesh-authz', 'lint', '--format', '')).toEqual(['text', 'json']);
    expect(complete('mesh-authz', 'completion', '')).toEqual(['bash', 'zsh', 'fish']);
    // Must not offer what a command does not take, nor other commands' flags.
    expect(complete('mesh-authz', 'check', '--li')).toEqual([]);
    expect(complete('mesh-authz', 'check', 'examples/config.y')).toEqual(['examples/config.yaml']);
  });

  it('zsh and fish scripts are printed by the command, and name every command', async () => {
    const zsh = await capture(() => main(['completion', 'zsh']));
    expect(zsh.code).toBe(0);
    expect(zsh.out.startsWith('#compdef mesh-authz\n')).toBe(true);
    const fish = await capture(() => main(['completion', 'fish']));
    for (const name of names) expect(fish.out).toContain(`-a ${name} -d `);
    expect(fish.out).toContain("-n '__fish_seen_subcommand_from check' -s c -l config -r -F");
    const bad = await capture(() => main(['completion', 'powershell']));
    expect(bad.code).toBe(2);
  });
});

describe('exit codes and startup errors (the built binary)', () => {
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('known mistakes: one clear line on stderr, no stack trace, no grpc-js log line; 2 for bad input, 1 at run time', async () => {
    const ca = await makeCa('Habits CA');
    const leaf = await issueLeaf(ca, { cn: 'server', ips: ['127.0.0.1'] });
    const pki = {
      serverCert: write('server.pem', leaf.certPem),
      serverKey: write('server.key', leaf.keyPem),
      ca: write('ca.pem', ca.certPem),
    };
    const plain = write('plain.yaml', 'admin: { enabled: false }\ntelemetry: { log: { level: silent } }\n');
    const tls = (extra: string) =>
      write(
        `tls-${Math.random().toString(36).slice(2)}.yaml`,
        `server:\n  listen: 127.0.0.1:0\n  tls: { ${extra} }\nadmin: { enabled: false }\ntelemetry: { log: { level: silent } }\n`,
      );
    mkdirSync(join(dir, 'a-directory'));
    writeFileSync(join(dir, 'junk.pem'), 'not a certificate\n');
    const cases: { args: string[]; code: number; err: RegExp }[] = [
      {
        args: ['serve', '-c', plain, '--listen', '127.0.0.1:99999'],
        code: 2,
        err: /--listen 127\.0\.0\.1:99999: expected host:port with a port from 0 to 65535/,
      },
      {
        args: ['serve', '-c', plain, '--listen', '25197'],
        code: 2,
        err: /--listen 25197: a bare port; expected host:port/,
      },
      {
        args: ['serve', '-c', plain, '-l', `127.0.0.1:${usedPort}`],
        code: 1,
        err: new RegExp(`^mesh-authz serve: cannot listen on 127\\.0\\.0\\.1:${usedPort}: the port is already in use`),
      },
      {
        args: ['serve', '-c', tls(`cert: ${join(dir, 'missing.pem')}, key: ${pki.serverKey}`)],
        code: 2,
        err: /^mesh-authz serve: cannot read the TLS certificate .*missing\.pem: no such file\n$/,
      },
      {
        args: ['serve', '-c', tls(`cert: ${join(dir, 'a-directory')}, key: ${pki.serverKey}`)],
        code: 2,
        err: /^mesh-authz serve: cannot read the TLS certificate .*a-directory: /,
      },
      {
        args: [
          'serve',
          '-c',
          tls(
            `cert: ${pki.serverCert}, key: ${pki.serverKey}, clientCa: ${join(dir, 'junk.pem')}, requireClientCert: true`,
          ),
        ],
        code: 2,
        err: /junk\.pem holds no usable CA certificate/,
      },
      // A leaf certificate is not a CA: clients it "trusts" could never complete a handshake.
      {
        args: [
          'serve',
          '-c',
          tls(`cert: ${pki.serverCert}, key: ${pki.serverKey}, clientCa: ${pki.serverCert}, requireClientCert: true`),
        ],
        code: 2,
        err: /holds no usable CA certificate/,
      },
      { args: ['check', '-c', plain], code: 2, err: /--request is required/ },
      {
        args: [
          'check',
          '-c',
          plain,
          '-p',
          join(dir, 'no-such-policies'),
          '-r',
          join(ROOT, 'examples/requests/denied.json'),
        ],
        code: 2,
        err: /--policy .*no-such-policies: no such file or directory/,
      },
      { args: ['nope'], code: 2, err: /unknown command 'nope'/ },
    ];
    const runs = cases.map((c) => ({ c, run: runCli(cli, c.args) }));
    // Must start (both sides of the CA rule): a bundle holding a real CA certificate.
    const good = runCli(cli, [
      'serve',
      '-c',
      tls(`cert: ${pki.serverCert}, key: ${pki.serverKey}, clientCa: ${pki.ca}, requireClientCert: true`),
    ]);
    await good.waitForOutput(/mesh-authz listening: gRPC 127\.0\.0\.1:\d+ \(mTLS\)/);
    expect(good.stderr()).not.toContain('holds no usable CA');
    good.child.kill('SIGTERM');
    expect(await good.exit).toBe(0);
    for (const { c, run } of runs) {
      const code = await run.exit;
      const err = run.stderr();
      expect([code, err], c.args.join(' ')).toEqual([c.code, expect.stringMatching(c.err)]);
      expect(err, c.args.join(' ')).not.toMatch(/\n\s+at |No address added|^E /m);
    }
  }, 90_000);

  it('the try-it banner: only for the embedded examples, and its commands work from another folder', async () => {
    const elsewhere = mkdtempSync(join(dir, 'cwd-'));
    const examples = join(ROOT, 'examples', 'config.yaml');
    const quiet = write('quiet.yaml', 'admin: { enabled: false }\ntelemetry: { log: { level: silent } }\n');
    const mine = runCli(cli, ['serve', '-c', quiet, '-l', '127.0.0.1:0']);
    const demo = runCli(cli, ['serve', '-c', relative(ROOT, examples), '-l', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
    await mine.waitForOutput(/policies: .*\n\n/);
    await demo.waitForOutput(/Stop with Ctrl-C/);
    expect(mine.stderr()).not.toContain('Try it');
    expect(mine.stderr()).not.toContain('mesh-authz check');
    const tries = [...demo.stderr().matchAll(/^ {2}mesh-authz (check .*)$/gm)].map((m) => m[1]!.split(' '));
    expect(tries).toHaveLength(2);
    for (const r of [mine, demo]) r.child.kill('SIGTERM');
    // SIGTERM right after the banner is a graceful stop (the handlers are in before the banner is printed).
    expect(await Promise.all([demo.exit, mine.exit])).toEqual([0, 0]);
    // The same commands, written relative to another working folder, decide as promised.
    const decisions = tries.map((args) => {
      const abs = args.map((a) => (a.startsWith('examples/') ? join(ROOT, a) : a));
      const rel = abs.map((a) => (a.startsWith(ROOT) ? relative(elsewhere, a) : a));
      const out = execFileSync(process.execPath, [cli.main, ...rel], { cwd: elsewhere, encoding: 'utf8' });
      return (JSON.parse(out) as { allowed: boolean }).allowed;
    });
    expect(decisions).toEqual([true, false]);
  }, 90_000);
});
