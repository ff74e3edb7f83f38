import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { toCheckInput } from '../../src/authz/input.js';
import type { WireCheckRequest, WireCheckResponse } from '../../src/authz/wire-types.js';
import { CheckRequestType, decodeCheckRequest, encodeCheckResponse } from '../../src/server/codec.js';

/**
 * Wire conformance: Envoy's own protos (as shipped in @grpc/grpc-js-xds) are the oracle. A CheckRequest encoded by
 * Envoy's definitions must decode with ours with every field we read intact; a CheckResponse encoded by ours must
 * decode with Envoy's with every field we write intact. Envoy's side uses the proto's snake_case names through
 * @grpc/proto-loader, ours uses protobufjs camelCase: the two share nothing but the bytes.
 */

const deps = join(import.meta.dirname, '../../node_modules/@grpc/grpc-js-xds/deps');
const envoy = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', {
  includeDirs: ['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((d) => join(deps, d)),
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: false,
  oneofs: true,
});
const check = (envoy['envoy.service.auth.v3.Authorization'] as protoLoader.ServiceDefinition).Check!;
const envoyEncodeRequest = (req: object): Buffer => check.requestSerialize(req);
const envoyDecodeResponse = (bytes: Buffer): Record<string, unknown> =>
  check.responseDeserialize(bytes) as Record<string, unknown>;

/**
 * Note: protobufjs' built-in google.protobuf.* types (Struct, Value) keep their camelCase field names even with
 * keepCase, so Envoy-side Struct values are written `stringValue` etc. A BoolValue{false} decodes as `{}`: an
 * empty but present message, which is exactly "append explicitly false" on the wire.
 */
const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

/** Every CheckRequest field Envoy fills, in Envoy's own field names. */
const envoyRequest = {
  attributes: {
    source: {
      address: { socket_address: { address: '10.1.2.3', port_value: 41234, protocol: 'TCP' } },
      service: 'frontend',
      labels: { app: 'frontend', version: 'v1' },
      principal: 'spiffe://shop.example/ns/shop/sa/frontend',
      certificate: encodeURIComponent(pem),
    },
    destination: {
      address: { socket_address: { address: '10.4.5.6', port_value: 8443 } },
      service: 'orders',
      labels: { app: 'orders' },
      principal: 'spiffe://shop.example/ns/shop/sa/orders',
    },
    request: {
      time: { seconds: '1767225600', nanos: 250_000_000 },
      http: {
        id: '1234567890',
        method: 'POST',
        headers: { ':authority': 'orders.shop', 'x-request-id': 'req-1', authorization: 'Bearer abc' },
        path: '/orders/42?expand=items#frag',
        host: 'orders.shop:8443',
        scheme: 'https',
        size: '17',
        protocol: 'HTTP/2',
        body: '{"hello":"world"}',
        raw_body: Buffer.from([0, 1, 2, 255]),
      },
    },
    context_extensions: { namespace: 'shop', app: 'orders', tier: 'backend' },
    metadata_context: {
      filter_metadata: {
        'envoy.filters.http.jwt_authn': {
          fields: {
            jwt_payload: {
              structValue: {
                fields: {
                  sub: { stringValue: 'alice' },
                  groups: { listValue: { values: [{ stringValue: 'admins' }, { stringValue: 'buyers' }] } },
                  n: { numberValue: 3 },
                  ok: { boolValue: true },
                  nothing: { nullValue: 0 },
                },
              },
            },
          },
        },
      },
    },
    tls_session: { sni: 'orders.shop.svc' },
    route_metadata_context: { filter_metadata: { route: { fields: { name: { stringValue: 'r1' } } } } },
  },
};

describe('CheckRequest: encoded with Envoy protos, decoded with ours', () => {
  it('keeps every field the project reads', () => {
    const decoded = decodeCheckRequest(envoyEncodeRequest(envoyRequest));
    if ('malformed' in decoded) throw new Error(decoded.malformed);
    const a = decoded.attributes!;
    expect(a.source?.address?.socketAddress).toMatchObject({ address: '10.1.2.3', portValue: 41234 });
    expect(a.source?.service).toBe('frontend');
    expect(a.source?.labels).toEqual({ app: 'frontend', version: 'v1' });
    expect(a.source?.principal).toBe('spiffe://shop.example/ns/shop/sa/frontend');
    expect(decodeURIComponent(a.source?.certificate ?? '')).toBe(pem);
    expect(a.destination?.principal).toBe('spiffe://shop.example/ns/shop/sa/orders');
    expect(a.destination?.labels).toEqual({ app: 'orders' });
    // Fields the core never reads are not built by the Check path's reader; the full protobufjs decode (the
    // reference for tools) still reads them from Envoy's bytes.
    const full = CheckRequestType.decode(envoyEncodeRequest(envoyRequest)) as unknown as WireCheckRequest;
    const http = full.attributes!.request!.http!;
    expect(http.body).toBe('{"hello":"world"}');
    expect(Buffer.from(http.rawBody!)).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(Number(http.size)).toBe(17);
    expect(full.attributes!.routeMetadataContext?.filterMetadata?.route?.fields?.name?.stringValue).toBe('r1');
    expect(a.request!.http!.body).toBeUndefined();

    // And through the one function that reads the wire message.
    const input = toCheckInput(decoded);
    expect(input).toMatchObject({
      requestId: 'req-1',
      // Envoy's request.time is kept for information; credentials are judged by the server's clock (`time`).
      requestTime: 1767225600250,
      method: 'POST',
      rawPath: '/orders/42?expand=items#frag',
      path: '/orders/42',
      query: 'expand=items',
      host: 'orders.shop:8443',
      scheme: 'https',
      protocol: 'HTTP/2',
      sni: 'orders.shop.svc',
      headers: { ':authority': 'orders.shop', 'x-request-id': 'req-1', authorization: 'Bearer abc' },
      source: { address: '10.1.2.3', port: 41234, principal: 'spiffe://shop.example/ns/shop/sa/frontend' },
      destination: { address: '10.4.5.6', port: 8443, service: 'orders' },
      workload: { namespace: 'shop', labels: { app: 'orders', tier: 'backend' } },
      contextExtensions: { namespace: 'shop', app: 'orders', tier: 'backend' },
    });
    expect(input.filterMetadata).toEqual({
      'envoy.filters.http.jwt_authn': {
        jwt_payload: { sub: 'alice', groups: ['admins', 'buyers'], n: 3, ok: true, nothing: null },
      },
    });
  });

  it('reads header_map (encode_raw_headers) with raw_value bytes and joins duplicates', () => {
    const bytes = envoyEncodeRequest({
      attributes: {
        request: {
          http: {
            method: 'GET',
            path: '/x',
            header_map: {
              headers: [
                { key: 'X-Dup', raw_value: Buffer.from('a') },
                { key: 'x-dup', raw_value: Buffer.from('b') },
                { key: ':authority', raw_value: Buffer.from('h') },
              ],
            },
          },
        },
      },
    });
    const decoded = decodeCheckRequest(bytes) as WireCheckRequest;
    const input = toCheckInput(decoded);
    expect(input.headers).toEqual({ 'x-dup': 'a,b', ':authority': 'h' });
    expect(input.host).toBe('h');
  });

  it('decodes bytes our own encoder wrote identically to Envoy-encoded bytes (no field silently dropped)', () => {
    const ours = decodeCheckRequest(envoyEncodeRequest(envoyRequest)) as WireCheckRequest;
    const reencoded = Buffer.from(CheckRequestType.encode(ours as never).finish());
    const back = check.requestDeserialize(reencoded) as typeof envoyRequest;
    expect(back.attributes.context_extensions).toEqual(envoyRequest.attributes.context_extensions);
    expect(back.attributes.request.http.headers).toEqual(envoyRequest.attributes.request.http.headers);
    expect(back.attributes.tls_session).toEqual(envoyRequest.attributes.tls_session);
    expect(back.attributes.source.principal).toBe(envoyRequest.attributes.source.principal);
  });
});

describe('CheckResponse: encoded with ours, decoded with Envoy protos', () => {
  const meta = {
    fields: {
      decision_id: { stringValue: 'd-1' },
      allowed: { boolValue: true },
      score: { numberValue: 1.5 },
      nested: {
        structValue: { fields: { list: { listValue: { values: [{ stringValue: 'a' }, { nullValue: 0 }] } } } },
      },
    },
  };

  it('ok: headers to set (overwrite), headers to remove, response headers, dynamic metadata', () => {
    const response: WireCheckResponse = {
      status: { code: 0 },
      okResponse: {
        headers: [{ header: { key: 'x-user', value: 'alice' }, append: { value: false }, appendAction: 2 }],
        headersToRemove: ['authorization', 'x-internal'],
        responseHeadersToAdd: [
          { header: { key: 'x-checked', value: 'yes' }, append: { value: false }, appendAction: 2 },
        ],
      },
      dynamicMetadata: meta,
    };
    const out = envoyDecodeResponse(encodeCheckResponse(response));
    expect(out.http_response).toBe('ok_response');
    expect(out.status ?? {}).toEqual({});
    expect(out.ok_response).toEqual({
      headers: [{ header: { key: 'x-user', value: 'alice' }, append: {}, append_action: 2 }],
      headers_to_remove: ['authorization', 'x-internal'],
      response_headers_to_add: [{ header: { key: 'x-checked', value: 'yes' }, append: {}, append_action: 2 }],
    });
    expect(out.dynamic_metadata).toEqual({
      fields: {
        decision_id: { stringValue: 'd-1', kind: 'stringValue' },
        allowed: { boolValue: true, kind: 'boolValue' },
        score: { numberValue: 1.5, kind: 'numberValue' },
        nested: {
          kind: 'structValue',
          structValue: {
            fields: {
              list: {
                kind: 'listValue',
                listValue: {
                  values: [
                    { stringValue: 'a', kind: 'stringValue' },
                    { nullValue: 0, kind: 'nullValue' },
                  ],
                },
              },
            },
          },
        },
      },
    });
  });

  it('denied: status code and message, HTTP status, headers and body', () => {
    const response: WireCheckResponse = {
      status: { code: 7, message: 'no ALLOW policy matched' },
      deniedResponse: {
        status: { code: 403 },
        headers: [
          {
            header: { key: 'x-mesh-authz-reason', value: 'no ALLOW policy matched' },
            append: { value: false },
            appendAction: 2,
          },
        ],
        body: 'Forbidden: no ALLOW policy matched\n',
      },
      dynamicMetadata: { fields: { allowed: { boolValue: false } } },
    };
    const out = envoyDecodeResponse(encodeCheckResponse(response));
    expect(out.status).toEqual({ code: 7, message: 'no ALLOW policy matched' });
    expect(out.http_response).toBe('denied_response');
    expect(out.denied_response).toEqual({
      status: { code: 403 },
      headers: [
        {
          header: { key: 'x-mesh-authz-reason', value: 'no ALLOW policy matched' },
          append: {},
          append_action: 2,
        },
      ],
      body: 'Forbidden: no ALLOW policy matched\n',
    });
    expect(out.dynamic_metadata).toEqual({ fields: { allowed: { boolValue: false, kind: 'boolValue' } } });
  });

  it('unauthenticated: 401 with www-authenticate', () => {
    const out = envoyDecodeResponse(
      encodeCheckResponse({
        status: { code: 16, message: 'jwt expired' },
        deniedResponse: {
          status: { code: 401 },
          headers: [
            { header: { key: 'www-authenticate', value: 'Bearer error="invalid_token"' }, append: { value: false } },
          ],
          body: 'Unauthenticated\n',
        },
      }),
    );
    expect(out.status).toEqual({ code: 16, message: 'jwt expired' });
    expect((out.denied_response as { status: unknown }).status).toEqual({ code: 401 });
  });
});
