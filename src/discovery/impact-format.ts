import type { ImpactChange, ImpactReport } from './impact.js';

/** `impact` output: plain text for a terminal, JSON for tools, Markdown for a pull-request comment. */

export type ImpactFormat = 'text' | 'json' | 'markdown';
export const IMPACT_FORMATS: readonly ImpactFormat[] = ['text', 'json', 'markdown'];

export interface ImpactVerdict {
  readonly maxNewDenies: number;
  /** True when the newly denied groups exceed the limit: the change would break recorded traffic. */
  readonly blocked: boolean;
}

export function formatImpact(r: ImpactReport, v: ImpactVerdict, format: ImpactFormat): string {
  if (format === 'json') return `${JSON.stringify({ ...r, ...v }, null, 2)}\n`;
  if (format === 'markdown') return markdown(r, v);
  return text(r, v);
}

function summary(r: ImpactReport, v: ImpactVerdict): string {
  const verdict = v.blocked
    ? `BLOCKED: ${r.newlyDenied.length} newly denied > --max-new-denies ${v.maxNewDenies}`
    : `ok: ${r.newlyDenied.length} newly denied ≤ --max-new-denies ${v.maxNewDenies}`;
  return `${r.flows} recorded flows (${r.requests} requests) replayed: ${r.newlyDenied.length} newly denied (${r.newlyDeniedRequests} requests), ${r.newlyAllowed.length} newly allowed (${r.newlyAllowedRequests} requests), ${r.unchanged} unchanged — ${verdict}`;
}

function line(c: ImpactChange): string {
  return `${c.caller} -> ${c.callee} ${c.operation}: ${c.requests} requests in ${c.flows} flows; before: ${c.before.join(', ')}; after: ${c.after.join(', ')}`;
}

function text(r: ImpactReport, v: ImpactVerdict): string {
  const lines = [summary(r, v)];
  if (r.newlyDenied.length > 0) {
    lines.push('', 'newly denied (the outage this change would cause):');
    for (const c of r.newlyDenied) lines.push(`  ${line(c)}`);
  }
  if (r.newlyAllowed.length > 0) {
    lines.push('', 'newly allowed (the access this change would open):');
    for (const c of r.newlyAllowed) lines.push(`  ${line(c)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Markdown table cells: `|` would end the cell, a newline the row. */
const cell = (s: string): string => s.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('\n', ' ');

function table(changes: readonly ImpactChange[]): string[] {
  const rows = [
    '| caller | callee | operation | requests | flows | before | after |',
    '|---|---|---|---:|---:|---|---|',
  ];
  for (const c of changes) {
    rows.push(
      `| ${cell(c.caller)} | ${cell(c.callee)} | \`${cell(c.operation)}\` | ${c.requests} | ${c.flows} | ${cell(c.before.join(', '))} | ${cell(c.after.join(', '))} |`,
    );
  }
  return rows;
}

function markdown(r: ImpactReport, v: ImpactVerdict): string {
  const icon = v.blocked ? '🛑' : r.newlyAllowed.length > 0 ? '⚠️' : '✅';
  const lines = [`### ${icon} mesh-authz impact`, '', summary(r, v)];
  if (r.newlyDenied.length > 0) lines.push('', '#### Newly denied', '', ...table(r.newlyDenied));
  if (r.newlyAllowed.length > 0) lines.push('', '#### Newly allowed', '', ...table(r.newlyAllowed));
  if (r.newlyDenied.length === 0 && r.newlyAllowed.length === 0) {
    lines.push('', 'No recorded flow changes its decision.');
  }
  return `${lines.join('\n')}\n`;
}
