import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { FlowRecord } from './types.js';

/**
 * The application dependency map: callers and workloads as nodes grouped by namespace, one edge per
 * (caller, workload) labelled with methods and request counts. An edge whose requests were all denied (or would
 * have been, in dry-run) is marked denied; one with some denied requests is marked partly denied.
 *
 * A caller `ns/sa` and a workload `ns/app` are the same node when the names agree (the usual convention of one
 * service account per app), so the map reads as services talking to services.
 */

export interface MapNode {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
}

export interface MapEdge {
  readonly from: string;
  readonly to: string;
  readonly methods: readonly string[];
  readonly requests: number;
  readonly deniedRequests: number;
  readonly state: 'allowed' | 'denied' | 'partly-denied';
}

export interface DependencyMap {
  readonly nodes: readonly MapNode[];
  readonly edges: readonly MapEdge[];
}

const EXTERNAL = '(no namespace)';

function callerNode(f: FlowRecord): MapNode {
  const s = f.source;
  if (s.namespace !== '' && s.serviceAccount !== '') {
    return { id: `${s.namespace}/${s.serviceAccount}`, namespace: s.namespace, name: s.serviceAccount };
  }
  const name = s.spiffeId === '' ? 'anonymous' : s.spiffeId;
  return { id: name, namespace: EXTERNAL, name };
}

export function buildMap(flows: readonly FlowRecord[]): DependencyMap {
  const nodes = new Map<string, MapNode>();
  const edges = new Map<string, { from: string; to: string; methods: Set<string>; requests: number; denied: number }>();
  for (const f of flows) {
    const from = callerNode(f);
    const to: MapNode = {
      id: `${f.destination.namespace}/${f.destination.workload}`,
      namespace: f.destination.namespace,
      name: f.destination.workload,
    };
    nodes.set(from.id, from);
    nodes.set(to.id, to);
    const key = `${from.id}\u0000${to.id}`;
    let e = edges.get(key);
    if (e === undefined) {
      e = { from: from.id, to: to.id, methods: new Set(), requests: 0, denied: 0 };
      edges.set(key, e);
    }
    e.methods.add(f.method);
    e.requests += f.count;
    e.denied += f.decisions.denied + f.decisions.wouldDeny;
  }
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return {
    nodes: [...nodes.values()].sort(byId),
    edges: [...edges.values()]
      .map((e) => ({
        from: e.from,
        to: e.to,
        methods: [...e.methods].sort(),
        requests: e.requests,
        deniedRequests: e.denied,
        state: e.denied === 0 ? 'allowed' : e.denied >= e.requests ? 'denied' : 'partly-denied',
      }))
      .sort((a, b) => (a.from + a.to < b.from + b.to ? -1 : 1)) as MapEdge[],
  };
}

function edgeLabel(e: MapEdge): string {
  const base = `${e.methods.join(',')} · ${e.requests}`;
  if (e.state === 'denied') return `DENIED ${base}`;
  if (e.state === 'partly-denied') return `${base} (${e.deniedRequests} denied)`;
  return base;
}

function namespaces(m: DependencyMap): Map<string, MapNode[]> {
  const out = new Map<string, MapNode[]>();
  for (const n of m.nodes) {
    const list = out.get(n.namespace);
    if (list) list.push(n);
    else out.set(n.namespace, [n]);
  }
  return out;
}

const RED = '#d00';
const ORANGE = '#e69500';

/** Quotes for Mermaid labels: `"` would end the label, so it becomes `#quot;`. */
const mq = (s: string): string => `"${s.replaceAll('"', '#quot;')}"`;

export function toMermaid(m: DependencyMap): string {
  const ids = new Map(m.nodes.map((n, i) => [n.id, `n${i}`]));
  const lines = ['flowchart LR'];
  let g = 0;
  for (const [ns, nodes] of namespaces(m)) {
    lines.push(`  subgraph ns${g++}[${mq(ns)}]`);
    for (const n of nodes) lines.push(`    ${ids.get(n.id)}[${mq(n.name)}]`);
    lines.push('  end');
  }
  const denied: number[] = [];
  const partly: number[] = [];
  m.edges.forEach((e, i) => {
    const arrow = e.state === 'denied' ? '-.->' : '-->';
    lines.push(`  ${ids.get(e.from)} ${arrow}|${mq(edgeLabel(e))}| ${ids.get(e.to)}`);
    if (e.state === 'denied') denied.push(i);
    else if (e.state === 'partly-denied') partly.push(i);
  });
  // As in the DOT map and the docs: all denied is red (and dashed), partly denied is orange.
  if (denied.length > 0) lines.push(`  linkStyle ${denied.join(',')} stroke:${RED},color:${RED}`);
  if (partly.length > 0) lines.push(`  linkStyle ${partly.join(',')} stroke:${ORANGE},color:${ORANGE}`);
  return `${lines.join('\n')}\n`;
}

/** DOT string literal. */
const dq = (s: string): string => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

export function toDot(m: DependencyMap): string {
  const lines = ['digraph mesh {', '  rankdir=LR;', '  node [shape=box, style=rounded, fontname="Helvetica"];'];
  lines.push('  edge [fontname="Helvetica", fontsize=10];');
  let g = 0;
  for (const [ns, nodes] of namespaces(m)) {
    lines.push(`  subgraph cluster_${g++} {`, `    label=${dq(ns)};`, '    style=dashed;');
    for (const n of nodes) lines.push(`    ${dq(n.id)} [label=${dq(n.name)}];`);
    lines.push('  }');
  }
  for (const e of m.edges) {
    const style =
      e.state === 'denied'
        ? ', color=red, fontcolor=red, style=dashed'
        : e.state === 'partly-denied'
          ? ', color=orange'
          : '';
    lines.push(`  ${dq(e.from)} -> ${dq(e.to)} [label=${dq(edgeLabel(e))}${style}];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

export const DOT_BINARY = '/usr/bin/dot';

/** Renders DOT to SVG with Graphviz, or returns null when `dot` is not installed. */
export async function renderSvg(dot: string, binary = DOT_BINARY): Promise<string | null> {
  if (!existsSync(binary)) return null;
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-Tsvg'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`dot exited with ${code}: ${Buffer.concat(err).toString('utf8').trim()}`));
    });
    child.stdin.end(dot);
  });
}
