#!/usr/bin/env node
// Prints the mutants a Stryker run left alive, grouped by source line, with the line's text and each edit: the
// list to go through after `npm run test:mutation` (see CONTRIBUTING.md, "Reading the report"). Reads either the
// JSON report (reports/mutation/mutation.json) or an incremental file (reports/inc/<group>.json): both use the
// mutation-testing-report schema and carry each file's source.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const HELP = `usage: npm run mutation:survivors -- [report.json] [--file <path>] [--status <S,...>]

Lists the mutants of a StrykerJS report that no test killed, by file and line, with the line's source text,
the column, the mutator and the edit. Ends with a score per file:
(killed + timed out) / (killed + timed out + survived + no coverage).

  report.json        a Stryker JSON report or incremental file (default: reports/mutation/mutation.json)
  --file <path>      only files whose path contains this text (repeatable)
  --status <list>    statuses to list (default: Survived,NoCoverage)
  -h, --help         this text`;

function fail(message) {
  process.stderr.write(`mutation-survivors: ${message}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      file: { type: 'string', multiple: true },
      status: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (err) {
  fail(`${err.message}\n\n${HELP}`);
}
if (args.values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}
if (args.positionals.length > 1) fail(`one report at a time (got ${args.positionals.length})\n\n${HELP}`);

const path = args.positionals[0] ?? 'reports/mutation/mutation.json';
let report;
try {
  report = JSON.parse(readFileSync(path, 'utf8'));
} catch (err) {
  fail(`cannot read ${path}: ${err.code === 'ENOENT' ? 'no such file (run Stryker first)' : err.message}`);
}
if (report === null || typeof report !== 'object' || typeof report.files !== 'object' || report.files === null) {
  fail(`${path} is not a Stryker report: it has no "files" object`);
}

const wanted = new Set((args.values.status ?? 'Survived,NoCoverage').split(',').map((s) => s.trim()));
const only = args.values.file ?? [];
const counted = { Killed: 'killed', Timeout: 'killed', Survived: 'alive', NoCoverage: 'alive' };
const scores = [];

for (const name of Object.keys(report.files).sort()) {
  if (only.length > 0 && !only.some((part) => name.includes(part))) continue;
  const file = report.files[name];
  const mutants = Array.isArray(file.mutants) ? file.mutants : [];
  const lines = typeof file.source === 'string' ? file.source.split('\n') : [];
  let killed = 0;
  let alive = 0;
  const byLine = new Map();
  for (const m of mutants) {
    const kind = counted[m.status];
    if (kind === 'killed') killed++;
    else if (kind === 'alive') alive++;
    if (!wanted.has(m.status)) continue;
    const line = m.location?.start?.line ?? 0;
    if (!byLine.has(line)) byLine.set(line, []);
    byLine.get(line).push(m);
  }
  const total = killed + alive;
  scores.push({ name, killed, alive, score: total === 0 ? null : (100 * killed) / total });
  if (byLine.size === 0) continue;
  process.stdout.write(`\n${name}\n`);
  for (const line of [...byLine.keys()].sort((a, b) => a - b)) {
    process.stdout.write(`${String(line).padStart(5)}: ${(lines[line - 1] ?? '').trim().slice(0, 110)}\n`);
    for (const m of byLine.get(line)) {
      const edit = JSON.stringify(m.replacement ?? '').slice(0, 80);
      const col = m.location?.start?.column ?? 0;
      process.stdout.write(`       ${line}:${col} ${m.mutatorName} ${m.status} -> ${edit}\n`);
    }
  }
}

if (scores.length === 0)
  fail(only.length > 0 ? `no file of ${path} matches ${only.join(', ')}` : `${path} lists no files`);
process.stdout.write('\nscore   killed  alive  file\n');
for (const s of scores) {
  const score = s.score === null ? '   -  ' : `${s.score.toFixed(1).padStart(5)}%`;
  process.stdout.write(`${score} ${String(s.killed).padStart(7)} ${String(s.alive).padStart(6)}  ${s.name}\n`);
}
