import { describe, expect, it } from 'vitest';
import { InvalidCheckRequest, toCheckInput } from '../authz/input.js';
import type { WireCheckRequest } from '../authz/wire-types.js';
import { CheckRequestType } from './codec.js';
import { prescanCheckRequest } from './prescan.js';

const LIMITS = { maxPathBytes: 100, maxHeaderBytes: 200, maxHeaders: 5, maxLabels: 3 };

function bytes(req: WireCheckRequest): Uint8Array {
  return CheckRequestType.encode(req as unknown as Parameters<typeof CheckRequestType.encode>[0]).finish();
}

function http(headers: Record<string, string>, path = '/x'): WireCheckRequest {
  return { attributes: { request: { http: { method: 'GET', path, headers } } } };
}

describe('prescanCheckRequest', () => {
  it('passes a request within every limit, and one at the limits', () => {
    expect(prescanCheckRequest(bytes(http({ a: 'b' })), LIMITS)).toBeNull();
    const five = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`h${i}`, 'v']));
    expect(prescanCheckRequest(bytes(http(five, `/${'p'.repeat(99)}`)), LIMITS)).toBeNull();
  });

  it('counts headers, header bytes (UTF-8) and path bytes (UTF-8)', () => {
    const six = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`h${i}`, 'v']));
    expect(prescanCheckRequest(bytes(http(six)), LIMITS)).toBe('more than 5 headers');
    // 67 characters, 201 bytes.
    expect(prescanCheckRequest(bytes(http({ a: '€'.repeat(67) })), LIMITS)).toBe('headers exceed 200 bytes');
    expect(prescanCheckRequest(bytes(http({}, `/${'é'.repeat(50)}`)), LIMITS)).toBe(
      'the path is longer than 100 bytes',
    );
  });

  it('counts header_map entries together with headers', () => {
    const req = http({ a: '1', b: '2', c: '3' });
    req.attributes!.request!.http!.headerMap = {
      headers: [
        { key: 'd', value: '4' },
        { key: 'e', rawValue: Buffer.from('5') },
        { key: 'f', value: '6' },
      ],
    };
    expect(prescanCheckRequest(bytes(req), LIMITS)).toBe('more than 5 headers');
  });

  it('counts across repeated occurrences of the attributes field (protobuf merges them)', () => {
    const part = bytes(http({ a: '1', b: '2', c: '3' }));
    const merged = Buffer.concat([part, part]);
    expect(prescanCheckRequest(merged, LIMITS)).toBe('more than 5 headers');
  });

  it('leaves a structurally broken message to the full decoder (null)', () => {
    const ok = bytes(http({ a: 'b' }));
    expect(prescanCheckRequest(ok.subarray(0, ok.length - 3), LIMITS)).toBeNull();
    expect(prescanCheckRequest(Buffer.from([0xff, 0xff, 0xff]), LIMITS)).toBeNull();
  });
});

describe('toCheckInput byte limits (after decoding: the second line)', () => {
  const limits = { maxPathBytes: 100, maxHeaderBytes: 200, maxHeaders: 5 };
  it('counts UTF-8 bytes, not UTF-16 units', () => {
    expect(() => toCheckInput(http({}, `/${'é'.repeat(50)}`), limits)).toThrow(InvalidCheckRequest);
    expect(() => toCheckInput(http({}, `/${'é'.repeat(49)}`), limits)).not.toThrow();
    expect(() => toCheckInput(http({ a: '€'.repeat(67) }), limits)).toThrow(/headers exceed 200 bytes/);
    expect(() => toCheckInput(http({ a: '€'.repeat(66) }), limits)).not.toThrow();
  });
});
