import type { WireCheckRequest } from '../src/authz/wire-types.js';

/** Share of the telemetry benchmark's requests that are allowed (the rest hit a denied path): issue 18's 25% deny mix. */
export const ALLOW_SHARE = 0.75;

function hex(bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++)
    s += Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0');
  return s;
}

/**
 * Request `i` of the telemetry benchmark's fixed mix: 75% allowed (`/orders/…`), 25% denied (`/admin/…`), each with
 * its own unsampled W3C trace context, as Envoy sends when the trace is not sampled. `pathId` varies the path.
 */
export function traceRequest(i: number, pathId: number): WireCheckRequest {
  const path = i % 20 < ALLOW_SHARE * 20 ? `/orders/${pathId}` : `/admin/${pathId}`;
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: '10.0.0.7', portValue: 41000 } },
        principal: 'spiffe://cluster.local/ns/shop/sa/frontend',
      },
      contextExtensions: { namespace: 'shop', app: 'orders' },
      request: {
        http: {
          method: 'GET',
          path,
          host: 'orders.shop.svc',
          headers: {
            ':method': 'GET',
            ':path': path,
            'x-request-id': `req-${i}`,
            traceparent: `00-${hex(16)}-${hex(8)}-00`,
            'user-agent': 'bench',
          },
        },
      },
    },
  };
}
