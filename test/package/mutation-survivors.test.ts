import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** `npm run mutation:survivors`: the list of mutants left alive in a Stryker report, and the score per file. */

const script = join(import.meta.dirname, '../../scripts/mutation-survivors.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'mesh-authz-survivors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const at = (line: number, column: number) => ({ start: { line, column }, end: { line, column: column + 1 } });
// The mutation-testing-report schema Stryker writes (reports/mutation/mutation.json and incremental files).
const report = {
  schemaVersion: '2',
  files: {
    'src/policy/a.ts': {
      language: 'typescript',
      source: 'export function a(x: number) {\n  if (x > 0) return 1;\n  return 2;\n}\n',
      mutants: [
        { id: '1', mutatorName: 'EqualityOperator', replacement: 'x >= 0', status: 'Survived', location: at(2, 7) },
        { id: '2', mutatorName: 'ConditionalExpression', replacement: 'true', status: 'Killed', location: at(2, 7) },
        { id: '3', mutatorName: 'ConditionalExpression', replacement: 'false', status: 'Timeout', location: at(2, 7) },
        { id: '4', mutatorName: 'BlockStatement', replacement: '{}', status: 'NoCoverage', location: at(1, 31) },
        { id: '5', mutatorName: 'StringLiteral', replacement: '""', status: 'CompileError', location: at(3, 3) },
      ],
    },
    'src/identity/b.ts': {
      language: 'typescript',
      source: 'export const b = 1;\n',
      mutants: [{ id: '6', mutatorName: 'X', replacement: '0', status: 'Killed', location: at(1, 18) }],
    },
  },
};
const path = join(tmp, 'mutation.json');
writeFileSync(path, JSON.stringify(report));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('mutation:survivors', () => {
  it('lists survivors and uncovered mutants under their source line, and scores each file', () => {
    const { code, out } = run(path);
    expect(code).toBe(0);
    expect(out).toContain('src/policy/a.ts');
    expect(out).toContain('    2: if (x > 0) return 1;');
    expect(out).toContain('2:7 EqualityOperator Survived -> "x >= 0"');
    expect(out).toContain('1:31 BlockStatement NoCoverage -> "{}"');
    // Killed, timed-out and rejected mutants are not listed.
    expect(out).not.toMatch(/Killed ->|Timeout ->|CompileError ->/);
    // (killed 1 + timed out 1) / 4 counted; the compile error is not counted.
    expect(out).toMatch(/ 50\.0%\s+2\s+2 {2}src\/policy\/a\.ts/);
    expect(out).toMatch(/100\.0%\s+1\s+0 {2}src\/identity\/b\.ts/);
  });

  it('keeps to the files asked for and lists the statuses asked for', () => {
    const { out } = run(path, '--file', 'identity/', '--status', 'Killed');
    expect(out).not.toContain('src/policy/a.ts');
    expect(out).toContain('1:18 X Killed -> "0"');
  });

  it('refuses a missing file, a file that is not a report, and unknown options, with exit code 2', () => {
    const missing = run(join(tmp, 'none.json'));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('no such file (run Stryker first)');
    const other = join(tmp, 'other.json');
    writeFileSync(other, '{"name": "x"}');
    expect(run(other).err).toContain('is not a Stryker report');
    expect(run(path, '--file', 'nothing-like-this').err).toContain('no file of');
    const unknown = run(path, '--frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('usage:');
  });
});
