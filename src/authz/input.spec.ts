import { describe, expect, it } from 'vitest';
import { CheckRequestType, decodeCheckRequest } from '../server/codec.js';
import { InvalidCheckRequest, resolveWorkload, toCheckInput } from './input.js';
import type { WireCheckRequest } from './wire-types.js';

function roundTrip(obj: Record<string, unknown>): WireCheckRequest {
  const bytes = CheckRequestType.encode(CheckRequestType.fromObject(obj)).finish();
  const decoded = decodeCheckRequest(bytes);
  if ('malformed' in decoded) throw new Error(decoded.malformed);
  return decoded;
}

describe('toCheckInput', () => {
  it('splits the query and fragment from the raw path without decoding it', () => {
    const input = toCheckInput(
      roundTrip({ attributes: { request: { http: { method: 'GET', path: '/a%2Fb?x=1#f', host: 'Shop.example' } } } }),
    );
    expect(input.rawPath).toBe('/a%2Fb?x=1#f');
    expect(input.path).toBe('/a%2Fb');
    expect(input.query).toBe('x=1');
    expect(input.host).toBe('Shop.example');
  });

  it('rejects a request without HTTP attributes', () => {
    expect(() => toCheckInput(roundTrip({ attributes: {} }))).toThrow(InvalidCheckRequest);
  });

  it('rejects paths over the limit instead of evaluating them', () => {
    const path = `/${'a'.repeat(100)}`;
    const req = roundTrip({ attributes: { request: { http: { method: 'GET', path } } } });
    expect(() => toCheckInput(req, { maxPathBytes: 50, maxHeaderBytes: 1000, maxHeaders: 10 })).toThrow(/longer/);
  });

  it('joins duplicate header_map entries with a comma, as Envoy does for headers', () => {
    const input = toCheckInput(
      roundTrip({
        attributes: {
          request: {
            http: {
              method: 'GET',
              path: '/',
              headerMap: {
                headers: [
                  { key: 'X-A', value: '1' },
                  { key: 'x-a', rawValue: Buffer.from('2') },
                ],
              },
            },
          },
        },
      }),
    );
    expect(input.headers['x-a']).toBe('1,2');
  });

  it('turns a malformed protobuf into a reason, not an exception', () => {
    expect(decodeCheckRequest(Buffer.from([0x0a, 0xff, 0xff]))).toHaveProperty('malformed');
  });
});

describe('resolveWorkload', () => {
  const peer = { address: '', port: 0, principal: '', certificate: '', service: '', labels: {} };
  it('prefers context extensions: namespace plus every other key as a label', () => {
    expect(resolveWorkload({ namespace: 'shop', app: 'orders' }, { ...peer, labels: { app: 'x' } })).toEqual({
      namespace: 'shop',
      labels: { app: 'orders' },
    });
  });
  it('falls back to destination labels and the principal namespace', () => {
    expect(
      resolveWorkload({}, { ...peer, labels: { app: 'cart' }, principal: 'spiffe://cluster.local/ns/shop/sa/cart' }),
    ).toEqual({ namespace: 'shop', labels: { app: 'cart' } });
  });
});
