import type { WireCheckRequest } from '../../src/authz/wire-types.js';

/**
 * CheckRequests shaped exactly as Istio's `CUSTOM` action makes Envoy send them, for the workload-resolution tests.
 *
 * What the filter is (istio/istio `pilot/pkg/security/authz/builder/extauthz.go`, `buildExtAuthzGRPC`, and its
 * golden output `pilot/pkg/security/authz/builder/testdata/http/custom-grpc-provider-out2.yaml`): an
 * `envoy.filters.http.ext_authz` with `grpcService`, `transportApiVersion: V3`, `failureModeAllow`,
 * `statusOnError`, `filterEnabledMetadata` (the RBAC shadow-policy id) and optionally `withRequestBody`. It sets no
 * `include_peer_certificate`, no `include_tls_session`, no `metadata_context_namespaces`, no
 * `bootstrap_metadata_labels_key` and no per-route `check_settings`. So, by Envoy's ext_authz attribute rules
 * (envoyproxy/envoy `source/extensions/filters/common/ext_authz/check_request_utils.cc`; the AttributeContext docs
 * of `envoy/service/auth/v3/attribute_context.proto`):
 * - no `context_extensions`, no `destination.labels`, no `source.certificate`, no `tls_session`;
 * - `source.address` / `destination.address`: the downstream connection's remote and local addresses (the caller,
 *   and the destination pod IP and port: Istio's inbound listener keeps the original destination);
 * - `source.principal` / `destination.principal`: the URI SAN of the peer's and of Envoy's own certificate, i.e.
 *   the Istio SPIFFE IDs `spiffe://cluster.local/ns/<ns>/sa/<sa>` (empty without mTLS, e.g. at a gateway's edge);
 * - `request.time`, and `request.http` with Envoy's stream `id`, `method`, `path` (raw, query included), `host`,
 *   `scheme`, `protocol` and every header (lowercase names), including the sidecar's `x-forwarded-client-cert`.
 */

export interface CustomRequestSpec {
  readonly source: { readonly ip: string; readonly principal: string };
  readonly destination: { readonly ip: string; readonly port: number; readonly principal: string };
  readonly method?: string;
  readonly path: string;
  readonly host: string;
}

let stream = 0;

/** A sidecar's (or gateway's) CUSTOM check: see the file comment for where each field comes from. */
export function istioCustomCheck(spec: CustomRequestSpec): WireCheckRequest {
  const method = spec.method ?? 'GET';
  stream++;
  const headers: Record<string, string> = {
    ':authority': spec.host,
    ':method': method,
    ':path': spec.path,
    ':scheme': 'http',
    'user-agent': 'curl/8.5.0',
    accept: '*/*',
    'x-forwarded-proto': 'http',
    'x-request-id': `5f1c2d9e-0000-4000-8000-${stream.toString().padStart(12, '0')}`,
    'x-envoy-attempt-count': '1',
  };
  // The inbound sidecar sets XFCC for mTLS callers (Istio's default forwardClientCertDetails); a gateway's edge
  // request has no client certificate and no XFCC.
  if (spec.source.principal !== '' && spec.destination.principal !== '') {
    headers['x-forwarded-client-cert'] =
      `By=${spec.destination.principal};Hash=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0;Subject="";URI=${spec.source.principal}`;
  }
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: spec.source.ip, portValue: 40000 + (stream % 20000) } },
        principal: spec.source.principal,
      },
      destination: {
        address: { socketAddress: { address: spec.destination.ip, portValue: spec.destination.port } },
        principal: spec.destination.principal,
      },
      request: {
        time: { seconds: Math.floor(Date.now() / 1000), nanos: 0 },
        http: {
          id: `${1_000_000 + stream}`,
          method,
          path: spec.path,
          host: spec.host,
          scheme: 'http',
          protocol: 'HTTP/1.1',
          headers,
        },
      },
    },
  };
}

/** Istio SPIFFE IDs (trust domain cluster.local). */
export const SA = {
  frontend: 'spiffe://cluster.local/ns/shop/sa/frontend',
  catalog: 'spiffe://cluster.local/ns/shop/sa/catalog',
  orders: 'spiffe://cluster.local/ns/shop/sa/orders',
  shared: 'spiffe://cluster.local/ns/shop/sa/shared',
  blog: 'spiffe://cluster.local/ns/blog/sa/web',
  gateway: 'spiffe://cluster.local/ns/istio-ingress/sa/istio-ingressgateway',
} as const;
