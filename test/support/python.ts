import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** Runs test/python/authz_client.py with Debian's python3 + grpcio (an implementation independent of ours). */

export const PYTHON = '/usr/bin/python3';
const CLIENT = join(import.meta.dirname, '../python/authz_client.py');

export interface PyRun {
  readonly child: ChildProcess;
  /** JSON lines printed so far. */
  readonly lines: Record<string, unknown>[];
  /** Resolves when a line satisfying `pred` has been printed. */
  waitFor(pred: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Resolves with all lines once the process exits 0; rejects with its stderr otherwise. */
  done: Promise<Record<string, unknown>[]>;
}

export function runPython(args: readonly string[]): PyRun {
  const child = spawn(PYTHON, [CLIENT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] =
    [];
  let buffer = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
      nl = buffer.indexOf('\n');
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const done = new Promise<Record<string, unknown>[]>((resolve, reject) => {
    child.on('close', (code) =>
      code === 0 ? resolve(lines) : reject(new Error(`python client exited ${code}: ${stderr}`)),
    );
  });
  return {
    child,
    lines,
    done,
    waitFor: (pred) => {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

/** One-shot: the single JSON line a command prints. */
export async function python(args: readonly string[]): Promise<Record<string, unknown>> {
  const lines = await runPython(args).done;
  return lines[0]!;
}
