import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { peerOf } from '../../src/discovery/attributes.js';
import { runDiscover } from '../../src/discovery/discover.js';
import type { PolicyEngine } from '../../src/discovery/engine.js';
import { policyEngine } from '../../src/discovery/engine.js';
import { buildMap, DOT_BINARY, renderSvg, toDot, toMermaid } from '../../src/discovery/map.js';
import { flowSource } from '../../src/discovery/observe.js';
import { DEFAULT_REACH_OPTIONS } from '../../src/discovery/reach.js';
import { GRANULARITIES, type Granularity } from '../../src/discovery/suggest.js';
import { type FlowRecord, sourceName } from '../../src/discovery/types.js';
import type { PeerIdentity, RequestAttributes } from '../../src/policy/types.js';
import { peer } from './outcomes.js';
import {
  api,
  batch,
  currentPolicies,
  ingress,
  LEGIT_FLOWS,
  recordShop,
  STRAY,
  stray,
  traffic,
  web,
  workloads,
} from './shop.js';

const engine: PolicyEngine = policyEngine;
const compile = { ...DEFAULT_REACH_OPTIONS, pathNormalization: 'BASE' as const };
const identities: PeerIdentity[] = [ingress, web, api, peer('shop', 'db'), batch, stray];

const seenPorts = [...new Set(traffic.map(([s]) => s.port ?? 8080))];
const seenMethods = [...new Set(traffic.map(([s]) => s.method ?? 'GET'))];
const seenPaths = [...new Set(traffic.map(([s]) => s.path.split('?')[0]!))];

/** Every combination of a seen port, method and path (so mixing one flow's method with another's path is
 * probed), plus operations nobody used, as concrete requests. */
const probes: Array<{ port: number; method: string; path: string }> = [
  ...seenPorts.flatMap((port) => seenMethods.flatMap((method) => seenPaths.map((path) => ({ port, method, path })))),
  { port: 8080, method: 'GET', path: '/admin' },
  { port: 8080, method: 'POST', path: '/products/x' },
  { port: 9090, method: 'DELETE', path: '/api/orders' },
  { port: 9090, method: 'GET', path: '/internal/reindex' },
  { port: 5432, method: 'GET', path: '/query' },
  { port: 5433, method: 'POST', path: '/query' },
];

function request(p: PeerIdentity, probe: (typeof probes)[number]): RequestAttributes {
  return {
    method: probe.method,
    path: probe.path,
    host: '',
    headers: {},
    sourceIp: '',
    remoteIp: '',
    destinationIp: '',
    destinationPort: probe.port,
    sni: '',
    peer: p,
    user: null,
    filterMetadata: {},
  };
}

const templateMatches = (t: string, path: string): boolean =>
  new RegExp(`^${t.replaceAll('{*}', '[^/]+')}$`).test(path);

/** What each granularity must allow, computed from the legitimate traffic alone (not from discovery's code). */
function expected(g: Granularity, p: PeerIdentity, ns: string, app: string, probe: (typeof probes)[number]): boolean {
  const legit = traffic.filter(([s]) => s.allowed !== false).map(([s]) => s);
  const guarded = g === 'namespace' ? legit.some((s) => s.ns === ns) : legit.some((s) => s.ns === ns && s.app === app);
  if (!guarded) return true; // no suggested policy selects it: unchanged (allow)
  if (g === 'namespace') return legit.some((s) => s.ns === ns && s.from?.namespace === p.namespace);
  const pairs = legit.filter((s) => s.ns === ns && s.app === app && s.from?.spiffeId === p.spiffeId);
  if (g === 'workload') return pairs.length > 0;
  return pairs.some(
    (s) =>
      (s.port ?? 8080) === probe.port &&
      (s.method ?? 'GET') === probe.method &&
      templateMatches(s.path.split('?')[0]!.replace(/\/\d+$/, '/{*}'), probe.path),
  );
}

let flows: FlowRecord[];
beforeAll(async () => {
  ({ flows } = await recordShop());
});

describe('discovery on a synthetic three-tier shop', () => {
  it('records the shop as templated flows with counts and decisions', () => {
    expect(flows).toHaveLength(LEGIT_FLOWS + 1);
    const products = flows.find((f) => f.path === '/products/{*}')!;
    expect(products.count).toBe(50);
    expect(flows.find((f) => f.path === '/api/products')!.groups).toEqual(['buyers']);
    const strayFlow = flows.find((f) => f.source.serviceAccount === 'stray')!;
    expect(strayFlow.decisions).toMatchObject({ allowed: 0, denied: 4 });
    expect(flows.reduce((n, f) => n + f.count, 0)).toBe(traffic.reduce((n, [, c]) => n + c, 0));
  });

  for (const g of GRANULARITIES) {
    describe(`granularity ${g}`, () => {
      let result: Awaited<ReturnType<typeof runDiscover>>;
      beforeAll(async () => {
        const outDir = mkdtempSync(join(tmpdir(), `discover-${g}-`));
        result = await runDiscover(
          { flows, granularity: g, outDir, current: currentPolicies, workloads, compile },
          engine,
        );
      });

      it('allows every observed legitimate flow and nothing else', () => {
        const set = engine.compile(
          result.suggestion.policies.map((p) => ({ policy: p.policy, source: null, dryRun: false })),
          compile,
        );
        let checked = 0;
        for (const p of identities) {
          for (const w of workloads) {
            for (const probe of probes) {
              const got = set.evaluate({ namespace: w.namespace, labels: w.labels }, request(p, probe)).allowed;
              const want = expected(g, p, w.namespace, w.labels['app']!, probe);
              expect(
                got,
                `${g}: ${sourceName(flowSource(p))} -> ${w.namespace}/${w.labels['app']} ${probe.method} ${probe.path}`,
              ).toBe(want);
              checked++;
            }
          }
        }
        expect(checked).toBe(identities.length * workloads.length * probes.length);
        // The stray's own request is denied by the suggestion (it is in another namespace than every legit caller).
        const s = set.evaluate(
          { namespace: 'shop', labels: { app: 'db' } },
          request(stray, { port: 5432, method: 'POST', path: '/query' }),
        );
        expect(s.allowed).toBe(false);
      });

      it('reports the stray flow as would-be denied and learns the rest', () => {
        expect(result.report.learned).toBe(LEGIT_FLOWS);
        expect(result.report.skipped).toEqual({ denied: 1, anonymous: 0, excluded: 0, unresolved: 0, path: 0 });
        expect(result.report.wouldBeDenied).toHaveLength(1);
        expect(result.report.wouldBeDenied[0]).toContain(STRAY);
      });

      it('computes the attack-surface reduction over the known identities', () => {
        // 6 identities (ingress, web, api, db, batch, stray) × 5 workloads = 30 pairs.
        // Today: shop's 3 workloads admit 5 identities (all but the stray) = 15; jobs/batch and sandbox/stray have
        // no policy and admit all 6 = 12. Total 27.
        // Namespace suggestion: the same three calling namespaces into shop = 27 (no reduction at that grain).
        // Workload/operation: web←ingress, api←web+batch, db←api = 4, plus 12 unguarded = 16 (11 fewer).
        const after = g === 'namespace' ? 27 : 16;
        expect(result.report.surface).toEqual({
          pairs: 30,
          before: 27,
          after,
          reduction: 27 - after,
          reductionRatio: (27 - after) / 27,
        });
        const db = result.report.workloads.find((w) => w.workload === 'shop/db')!;
        expect(db.callersBefore).toBe(5);
        expect(db.callersAfter).toBe(g === 'namespace' ? 5 : 1);
      });

      it('reports per workload: flows, denials, rules never exercised', () => {
        const db = result.report.workloads.find((w) => w.workload === 'shop/db')!;
        expect(db).toMatchObject({ flowsObserved: 2, requests: 74, flowsDeniedRecorded: 1, flowsDeniedByCurrent: 1 });
        // The `monitoring` rule never decided a flow; nor did the `jobs` rule for the db.
        expect(db.rulesNeverExercised).toContainEqual({ policy: 'shop/shop-namespaces', ruleIndex: 3 });
        expect(db.rulesNeverExercised).toContainEqual({ policy: 'shop/shop-namespaces', ruleIndex: 1 });
        const apiReport = result.report.workloads.find((w) => w.workload === 'shop/api')!;
        expect(apiReport.rulesNeverExercised).not.toContainEqual({ policy: 'shop/shop-namespaces', ruleIndex: 1 });
      });

      it('writes validated policies with each rule commented with the flows it covers', () => {
        const yamlText = readFileSync(result.files.find((f) => f.endsWith('policies.yaml'))!, 'utf8');
        const docs = parseAllDocuments(yamlText).map((d) => d.toJS() as { spec: { rules: unknown[] } });
        expect(docs).toHaveLength(result.suggestion.policies.length);
        const rules = docs.reduce((n, d) => n + d.spec.rules.length, 0);
        expect(yamlText.match(/# covers \d+ flow\(s\):/g)).toHaveLength(rules);
        expect(yamlText).toContain('shop/web -> shop/api:9090 POST /api/orders');
        expect(yamlText).not.toContain('sandbox/stray');
        for (const d of docs) expect(engine.validatePolicy(d, null)).toEqual([]);
      });
    });
  }

  it('draws the dependency map as Mermaid and DOT, grouped by namespace, denied edges marked', async () => {
    const map = buildMap(flows);
    expect(map.edges).toContainEqual({
      from: 'shop/web',
      to: 'shop/api',
      methods: ['GET', 'POST'],
      requests: 75,
      deniedRequests: 0,
      state: 'allowed',
    });
    expect(map.edges.find((e) => e.from === 'sandbox/stray')!.state).toBe('denied');
    const mmd = toMermaid(map);
    expect(mmd).toContain('subgraph');
    expect(mmd).toMatch(/-\.->\|"DENIED POST · 4"\|/);
    expect(mmd).toMatch(/linkStyle \d+ stroke:#d00/);
    const dot = toDot(map);
    expect(dot).toContain('label="shop"');
    expect(dot).toContain('"sandbox/stray" -> "shop/db" [label="DENIED POST · 4", color=red');
    // Graphviz is a CI dependency (Debian `graphviz`): render for real.
    expect(existsSync(DOT_BINARY)).toBe(true);
    const svg = await renderSvg(dot);
    expect(svg).toContain('<svg');
    expect(svg).toContain('DENIED POST · 4');
    // The same DOT is accepted by `dot` on the command line (what a user would run).
    expect(execFileSync(DOT_BINARY, ['-Tsvg'], { input: dot }).toString()).toContain('</svg>');
  });

  it('peerOf rebuilds a verified peer from a flow source', () => {
    expect(peerOf(flowSource(web))).toMatchObject({ spiffeId: web.spiffeId, namespace: 'shop', serviceAccount: 'web' });
  });
});
