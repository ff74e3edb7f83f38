import { describe, expect, it } from 'vitest';
import { toCheckInput } from '../authz/input.js';
import { checkRequestFromJson, RequestJsonError } from './request-json.js';

const base = {
  attributes: {
    source: { address: { socketAddress: { address: '10.0.0.1', portValue: 4431 } }, principal: 'spiffe://td/x' },
    request: {
      time: '2026-01-02T03:04:05.250Z',
      http: { method: 'GET', path: '/orders/1?x=1', headers: { 'X-Request-Id': 'abc', ':authority': 'shop' } },
    },
    contextExtensions: { namespace: 'shop', app: 'orders' },
    metadataContext: { filterMetadata: { 'envoy.filters.http.jwt_authn': { payload: { sub: 'u', groups: ['a'] } } } },
  },
};

describe('checkRequestFromJson', () => {
  it('reads lowerCamelCase proto3 JSON, keeping map keys verbatim', () => {
    const input = toCheckInput(checkRequestFromJson(base));
    expect(input.source.address).toBe('10.0.0.1');
    expect(input.source.port).toBe(4431);
    expect(input.path).toBe('/orders/1');
    expect(input.headers['X-Request-Id']).toBe('abc');
    expect(input.workload).toEqual({ namespace: 'shop', labels: { app: 'orders' } });
    expect(input.time).toBe(Date.parse('2026-01-02T03:04:05.250Z'));
    expect(input.filterMetadata).toEqual({ 'envoy.filters.http.jwt_authn': { payload: { sub: 'u', groups: ['a'] } } });
  });

  it('reads the proto snake_case names too', () => {
    const snake = {
      attributes: {
        source: { address: { socket_address: { address: '10.0.0.2', port_value: 1 } } },
        request: { http: { method: 'POST', path: '/' } },
        context_extensions: { namespace: 'shop' },
        tls_session: { sni: 'orders.shop' },
      },
    };
    const input = toCheckInput(checkRequestFromJson(snake));
    expect(input.source.address).toBe('10.0.0.2');
    expect(input.sni).toBe('orders.shop');
    expect(input.workload.namespace).toBe('shop');
  });

  it('names the path of an unknown field', () => {
    expect(() => checkRequestFromJson({ attributes: { request: { http: { methd: 'GET' } } } })).toThrow(
      /\$\.attributes\.request\.http\.methd: no such field/,
    );
  });

  it('names the path of a value of the wrong type', () => {
    expect(() => checkRequestFromJson({ attributes: { request: { http: { headers: { a: 1 } } } } })).toThrow(
      RequestJsonError,
    );
  });
});
