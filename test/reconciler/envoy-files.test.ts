import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkCommand } from '../../src/cli/check.js';
import { parseConfigText } from '../../src/config/load.js';
import { capture } from '../support/capture.js';
import { checkMessage, loadEnvoyProtos } from './envoy-proto-check.js';

const root = join(import.meta.dirname, '../..');
const config = parse(readFileSync(join(root, 'envoy', 'envoy.yaml'), 'utf8')) as Record<string, unknown>;
const protos = loadEnvoyProtos([
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
]);
const bootstrap = protos.lookupType('envoy.config.bootstrap.v3.Bootstrap');
type Cluster = {
  name: string;
  load_assignment: {
    endpoints: {
      lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[];
    }[];
  };
};
const clusters = (config['static_resources'] as { clusters: Cluster[] }).clusters;
type Route = {
  match: { prefix: string };
  typed_per_filter_config?: Record<string, { check_settings?: { context_extensions: Record<string, string> } }>;
};
const routes = (
  (config['static_resources'] as { listeners: { filter_chains: { filters: { typed_config: unknown }[] }[] }[] })
    .listeners[0]!.filter_chains[0]!.filters[0]!.typed_config as {
    route_config: { virtual_hosts: { routes: Route[] }[] };
  }
).route_config.virtual_hosts[0]!.routes;
const tmp = mkdtempSync(join(tmpdir(), 'mesh-authz-envoy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('envoy/envoy.yaml', () => {
  it("matches Envoy's Bootstrap proto field by field (typed configs included)", () => {
    expect(checkMessage(protos, bootstrap, config, 'envoy.yaml')).toEqual([]);
  });

  it('the checker rejects a misspelled field (it can fail)', () => {
    const bad = structuredClone(config);
    (bad['static_resources'] as { clusters: Record<string, unknown>[] }).clusters[0]!['conect_timeout'] = '1s';
    expect(checkMessage(protos, bootstrap, bad, 'envoy.yaml')).toEqual([
      'envoy.yaml.static_resources.clusters[0].conect_timeout: no such field on envoy.config.cluster.v3.Cluster',
    ]);
    // Inside a typed_config Any (the ext_authz filter), too.
    const text = JSON.stringify(config).replace('"failure_mode_allow":false', '"failure_mode_alow":false');
    const issues = checkMessage(protos, bootstrap, JSON.parse(text), 'e');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(
      'failure_mode_alow: no such field on envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
    );
  });

  it('asks mesh-authz over mTLS (h2), fails closed, sends per-route context extensions, admin on 9901', () => {
    const text = JSON.stringify(config);
    const authz = clusters.find((c) => c.name === 'ext_authz') as unknown as Record<string, unknown>;
    const tls = (authz['transport_socket'] as { typed_config: Record<string, unknown> }).typed_config;
    expect(tls['@type']).toContain('UpstreamTlsContext');
    const common = tls['common_tls_context'] as Record<string, unknown>;
    expect(common['alpn_protocols']).toEqual(['h2']);
    expect(common['tls_certificates']).toBeDefined();
    expect(text).toContain('"failure_mode_allow":false');
    expect(text).toContain('"include_peer_certificate":true');
    expect(text).toContain('"context_extensions":{"namespace":"shop","app":"orders"}');
    // Envoy's admin keeps its usual port; mesh-authz's admin default (9192) does not collide with it.
    expect(
      (config['admin'] as { address: { socket_address: { port_value: number } } }).address.socket_address.port_value,
    ).toBe(9901);
    expect(parseConfigText('', 'x').admin.listen).toBe('127.0.0.1:9192');
  });
});

describe('envoy/demo (compose: Envoy + mesh-authz + two echo services)', () => {
  const demo = join(root, 'envoy', 'demo');
  type Service = {
    image: string;
    build?: { context: string };
    command: string[];
    volumes?: string[];
    ports?: string[];
    user?: string;
  };
  const compose = parse(readFileSync(join(demo, 'compose.yaml'), 'utf8')) as { services: Record<string, Service> };
  const mounts = (s: Service) =>
    Object.fromEntries((s.volumes ?? []).map((v) => v.split(':')).map(([from, to]) => [to!, resolve(demo, from!)]));
  // The demo config names paths inside the image (/app = the package root): map them onto this checkout.
  const demoConfigFile = join(tmp, 'mesh-authz.yaml');
  writeFileSync(demoConfigFile, readFileSync(join(demo, 'mesh-authz.yaml'), 'utf8').replaceAll('/app/', `${root}/`));
  const demoConfig = parseConfigText(readFileSync(demoConfigFile, 'utf8'), demoConfigFile);

  it('has the four services; every mounted file exists; Envoy runs envoy/envoy.yaml as checked above', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['catalog', 'envoy', 'mesh-authz', 'orders']);
    for (const s of Object.values(compose.services))
      for (const from of Object.values(mounts(s))) expect(existsSync(from), from).toBe(true);
    const envoy = compose.services['envoy']!;
    expect(mounts(envoy)['/etc/envoy/envoy.yaml']).toBe(join(root, 'envoy', 'envoy.yaml'));
    expect(envoy.command).toEqual(['envoy', '--config-path', '/etc/envoy/envoy.yaml']);
    expect(resolve(demo, compose.services['mesh-authz']!.build!.context)).toBe(root);
    expect(compose.services['mesh-authz']!.command).toEqual(['serve', '--config', '/demo/mesh-authz.yaml']);
  });

  it('every Envoy cluster points at a compose service on the port it listens on', () => {
    const listens: Record<string, number> = {
      'mesh-authz': Number(demoConfig.server.listen.split(':')[1]),
      orders: 8080,
      catalog: 8080,
    };
    expect(readFileSync(join(demo, 'echo.mjs'), 'utf8')).toContain('.listen(8080');
    for (const c of clusters) {
      const at = c.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address;
      expect(listens[at.address], c.name).toBe(at.port_value);
    }
  });

  it('mTLS between Envoy and mesh-authz lines up: server SAN, client CA, and Envoy’s SVID chain', () => {
    const envoyMounts = mounts(compose.services['envoy']!);
    const serverCert = new X509Certificate(readFileSync(demoConfig.server.tls!.cert));
    const authz = JSON.stringify(clusters.find((c) => c.name === 'ext_authz'));
    const wanted = /"exact":"(spiffe:\/\/[^"]+)"/.exec(authz)![1]!;
    expect(serverCert.subjectAltName?.split(', ')).toContain(`URI:${wanted}`);
    const ca = new X509Certificate(readFileSync(demoConfig.server.tls!.clientCa!));
    expect(new X509Certificate(readFileSync(envoyMounts['/certs/svid.pem']!)).verify(ca.publicKey)).toBe(true);
    expect(readFileSync(envoyMounts['/certs/bundle.pem']!, 'utf8')).toBe(
      readFileSync(demoConfig.server.tls!.clientCa!, 'utf8'),
    );
    expect(demoConfig.server.tls!.requireClientCert).toBe(true);
  });

  it('the README’s two curls: what Envoy would send for them is allowed / denied by the demo config', async () => {
    const decide = async (caller: string, path: string) => {
      const ext = routes.find((r) => path.startsWith(r.match.prefix))!.typed_per_filter_config![
        'envoy.filters.http.ext_authz'
      ]!.check_settings!.context_extensions;
      const pem = readFileSync(join(root, 'examples', 'identities', 'svid', `${caller}.pem`), 'utf8');
      const request = {
        attributes: {
          source: { principal: `spiffe://cluster.local/ns/shop/sa/${caller}`, certificate: encodeURIComponent(pem) },
          request: {
            time: '2026-06-01T12:00:00Z',
            http: { method: 'GET', path, headers: { ':method': 'GET', ':path': path } },
          },
          contextExtensions: ext,
        },
      };
      const file = join(tmp, `${caller}.json`);
      writeFileSync(file, JSON.stringify(request));
      const r = await capture(() => checkCommand.run(['-c', demoConfigFile, '-r', file]));
      expect(r.code).toBe(0);
      return JSON.parse(r.out) as { allowed: boolean; policy: string | null; peer: string | null };
    };
    expect(await decide('frontend', '/orders/42')).toMatchObject({
      allowed: true,
      policy: 'shop/orders-from-frontend',
      peer: 'spiffe://cluster.local/ns/shop/sa/frontend',
    });
    expect(await decide('catalog', '/orders/42')).toMatchObject({
      allowed: false,
      peer: 'spiffe://cluster.local/ns/shop/sa/catalog',
    });
  });
});
