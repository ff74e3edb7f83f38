import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildMap, toMermaid } from '../../src/discovery/map.js';
import type { FlowRecord } from '../../src/discovery/types.js';

/**
 * The Mermaid map, read back by Mermaid's own parser (the `mermaid` package, the renderer GitHub and most Markdown
 * tools use): the text must parse, every edge must come back between the right nodes with its label, and the
 * colours must be the documented ones (denied: red and dotted; partly denied: orange; allowed: plain).
 * Mermaid sanitizes labels with DOMPurify, which needs a DOM: jsdom provides one (no browser).
 */

type MermaidEdge = { start: string; end: string; text: string; style?: string[]; stroke: string };
type MermaidDb = {
  getEdges(): MermaidEdge[];
  getVertices(): Map<string, { id: string; text: string }>;
  getSubGraphs(): { title: string; nodes: string[] }[];
};
type Mermaid = {
  parse(text: string): Promise<unknown>;
  mermaidAPI: { getDiagramFromText(text: string): Promise<{ db: MermaidDb }> };
};

// jsdom ships no types; @types/jsdom would pull the DOM lib into the whole project's type check.
const { JSDOM } = createRequire(import.meta.url)('jsdom') as {
  JSDOM: new (html: string) => { window: { document: unknown } };
};

let mermaid: Mermaid;
beforeAll(async () => {
  const dom = new JSDOM('<!doctype html><html><body></body></html>');
  Object.assign(globalThis, { window: dom.window, document: dom.window.document });
  mermaid = (await import('mermaid')).default as unknown as Mermaid;
});

function flow(
  from: [string, string],
  to: [string, string],
  method: string,
  allowed: number,
  denied: number,
): FlowRecord {
  return {
    type: 'flow',
    source: {
      spiffeId: from[0] === '' ? from[1] : `spiffe://cluster.local/ns/${from[0]}/sa/${from[1]}`,
      trustDomain: 'cluster.local',
      namespace: from[0],
      serviceAccount: from[0] === '' ? '' : from[1],
    },
    destination: { namespace: to[0], workload: to[1], labels: { app: to[1] } },
    port: 8080,
    method,
    path: '/',
    groups: [],
    count: allowed + denied,
    decisions: { allowed, denied, wouldDeny: 0, shadowDenied: 0 },
    policy: '',
    firstSeen: '2026-06-01T00:00:00.000Z',
    lastSeen: '2026-06-01T00:00:00.000Z',
  };
}

const flows: FlowRecord[] = [
  flow(['shop', 'web'], ['shop', 'api'], 'GET', 10, 0),
  flow(['shop', 'web'], ['shop', 'db'], 'POST', 6, 2),
  flow(['sandbox', 'stray'], ['shop', 'db'], 'DELETE', 0, 4),
  // Names a label must survive: quotes, pipes, brackets, a SPIFFE ID of another trust domain.
  flow(['', 'spiffe://partner.example/"odd"|[x]'], ['shop', 'api'], 'GET', 1, 0),
  flow(['team "a"', 'b|c'], ['shop', 'api'], 'PUT', 1, 1),
];

describe('Mermaid map, read back with the mermaid parser', () => {
  it('parses, and every edge, node and namespace comes back as drawn', async () => {
    const text = toMermaid(buildMap(flows));
    await expect(mermaid.parse(text)).resolves.toBeTruthy();
    const { db } = await mermaid.mermaidAPI.getDiagramFromText(text);
    const vertices = db.getVertices();
    const name = (id: string) => vertices.get(id)?.text;
    const edges = db.getEdges().map((e) => ({
      from: name(e.start),
      to: name(e.end),
      text: e.text,
      stroke: e.stroke,
      color: (e.style ?? []).find((s) => s.startsWith('stroke:')) ?? null,
    }));
    expect(edges).toHaveLength(5);
    expect(edges).toContainEqual({ from: 'web', to: 'api', text: 'GET · 10', stroke: 'normal', color: null });
    expect(edges).toContainEqual({
      from: 'web',
      to: 'db',
      text: 'POST · 8 (2 denied)',
      stroke: 'normal',
      color: 'stroke:#e69500',
    });
    expect(edges).toContainEqual({
      from: 'stray',
      to: 'db',
      text: 'DENIED DELETE · 4',
      stroke: 'dotted',
      color: 'stroke:#d00',
    });
    expect(edges.filter((e) => e.to === 'api' && e.color === 'stroke:#e69500')).toHaveLength(1);
    // `"` travels as Mermaid's `#quot;` entity (Mermaid swaps it for a placeholder until it renders).
    const titles = db.getSubGraphs().map((g) => g.title);
    const odd = titles.filter((t) => t.startsWith('team '));
    expect(titles.filter((t) => !t.startsWith('team ')).sort()).toEqual(['(no namespace)', 'sandbox', 'shop']);
    expect(odd).toHaveLength(1);
    expect(odd[0]).not.toContain('"');
  });

  it('the parser does reject what is broken (the check has teeth)', async () => {
    await expect(mermaid.parse('flowchart LR\n  n0 -->|"x| n1\n')).rejects.toThrow();
    await expect(mermaid.parse('flowchart LR\n  n0 --> n1\n  linkStyle 3 stroke:#d00\n')).rejects.toThrow();
  });
});
