import type { Exemplar } from './accumulators.js';

/**
 * OpenMetrics exposition, served when the scraper asks for it (`Accept: application/openmetrics-text`, which
 * Prometheus sends first when exemplar storage is on), so the check-latency histogram's buckets can carry
 * exemplars: a trace id per bucket that Grafana links to the trace.
 *
 * Why a conversion instead of prom-client's own OpenMetrics registry: that registry renames counter objects in
 * place (it strips `_total` from `metric.name`), which would corrupt the text format served from the same
 * metrics. The two formats differ only in what is done here: a counter family is named without `_total` in its
 * `# HELP`/`# TYPE` lines (its samples keep it), no blank lines, exemplars after ` # `, and a final `# EOF`.
 */

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** True when the scrape's Accept header lists OpenMetrics (with any q > 0). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((p) => p.trim());
    if (type !== 'application/openmetrics-text') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/** Looks up the exemplar of one bucket line: the histogram's name, its labels as rendered. */
export type ExemplarSource = (labels: Readonly<Record<string, string>>) => Exemplar | undefined;

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(LABEL)) out[m[1]!] = m[2]!;
  return out;
}

function formatExemplar(e: Exemplar): string {
  return ` # {trace_id="${e.traceId}",span_id="${e.spanId}"} ${e.value} ${e.timestamp.toFixed(3)}`;
}

/**
 * Converts Prometheus text format (0.0.4, as prom-client renders it) to OpenMetrics 1.0, adding exemplars to the
 * `_bucket` samples of the histograms named in `exemplars`.
 */
export function toOpenMetrics(text: string, exemplars: Readonly<Record<string, ExemplarSource>> = {}): string {
  const lines = text.split('\n');
  const counters = new Set<string>();
  for (const line of lines) {
    const m = /^# TYPE (\S+) counter$/.exec(line);
    if (m) counters.add(m[1]!);
  }
  const out: string[] = [];
  for (const line of lines) {
    if (line === '') continue;
    if (line.startsWith('# ')) {
      const m = /^# (HELP|TYPE) (\S+)(.*)$/.exec(line);
      if (m && counters.has(m[2]!) && m[2]!.endsWith('_total')) {
        out.push(`# ${m[1]} ${m[2]!.slice(0, -'_total'.length)}${m[3]}`);
      } else out.push(line);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\{([^}]*)\} /.exec(line);
    const source = sample ? exemplars[sample[1]!] : undefined;
    const exemplar = source && sample ? source(parseLabels(sample[2]!)) : undefined;
    out.push(exemplar === undefined ? line : line + formatExemplar(exemplar));
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}
