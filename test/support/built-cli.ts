import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

/**
 * The real CLI, compiled once per test file into .tmp/ (inside the package, so the built code finds package.json
 * and protos/ by walking up, exactly as an installed copy does). Used where a test needs a separate process:
 * signals, exit codes, stderr messages. Files are transpiled one by one (no type check: `npm test` type-checks
 * separately), which takes a fraction of a full `tsc` build.
 */

const ROOT = join(import.meta.dirname, '../..');

export interface BuiltCli {
  readonly main: string;
  cleanup(): void;
}

export function buildCli(tag: string): BuiltCli {
  const out = join(ROOT, '.tmp', `${tag}-${process.pid}`);
  const src = join(ROOT, 'src');
  for (const file of listTs(src)) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    const target = join(out, 'src', relative(src, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  return { main: join(out, 'src/cli/main.js'), cleanup: () => rmSync(out, { recursive: true, force: true }) };
}

export interface CliRun {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when stderr (or stdout) contains `text`. */
  waitForOutput(pattern: RegExp): Promise<RegExpMatchArray>;
  readonly exit: Promise<number | null>;
}

export function runCli(cli: BuiltCli, args: readonly string[], input?: string): CliRun {
  const child = spawn(process.execPath, [cli.main, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const poke = () => {
    for (const w of [...waiters]) {
      const m = (err + out).match(w.pattern);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    poke();
  });
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString('utf8');
    poke();
  });
  child.stdin!.end(input ?? '');
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitForOutput: (pattern) =>
      new Promise((resolve, reject) => {
        const m = (err + out).match(pattern);
        if (m) return resolve(m);
        waiters.push({ pattern, resolve });
        exit.then(() => reject(new Error(`process exited before printing ${pattern}:\n${err}\n${out}`)));
      }),
  };
}

function listTs(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listTs(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts')) {
      files.push(path);
    }
  }
  return files;
}
