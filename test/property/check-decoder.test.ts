import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CheckInput, toCheckInput } from '../../src/authz/input.js';
import type { WireCheckRequest, WireValue } from '../../src/authz/wire-types.js';
import { readCheckRequest } from '../../src/server/check-decoder.js';
import { CheckRequestType } from '../../src/server/codec.js';
import { propertyRuns } from '../support/property-runs.js';

/**
 * The Check path's one-pass reader (src/server/check-decoder.ts) against protobufjs decoding with the same protos:
 * for every well-formed CheckRequest, the CheckInput the core reads must be the same, field for field. protobufjs
 * is the reference here (it decodes every field, generated from the .proto files); the reader builds only what
 * `toCheckInput` reads, so the comparison is on CheckInput.
 */

const RUNS = propertyRuns(300);
const NO_LIMITS = { maxPathBytes: 1 << 30, maxHeaderBytes: 1 << 30, maxHeaders: 1 << 30, maxLabels: 1 << 30 };

// Any Unicode text (lone surrogates excluded: they are not encodable as UTF-8, so protobuf strings never carry them).
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const key = fc.oneof(text, fc.constantFrom(':authority', 'x-request-id', 'host', 'constructor', 'toString', ''));
// protobufjs drops an own `__proto__` key when it decodes into a plain object: not a difference worth a rule.
const map = fc.dictionary(
  key.filter((k) => k !== '__proto__'),
  text,
  { maxKeys: 5 },
);
const u32 = fc.integer({ min: 0, max: 0xffffffff });

const socket = fc.record({ address: text, portValue: u32 }, { requiredKeys: [] });
const peer = fc.record(
  {
    address: fc.record({ socketAddress: socket }, { requiredKeys: [] }),
    service: text,
    labels: map,
    principal: text,
    certificate: fc.string({ maxLength: 200 }),
  },
  { requiredKeys: [] },
);

const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.record({ nullValue: fc.constant(0) }),
    fc.record({ numberValue: fc.double({ noNaN: true }) }),
    fc.record({ stringValue: text }),
    fc.record({ boolValue: fc.boolean() }),
    fc.record({ structValue: tie('struct') }),
    fc.record({ listValue: fc.record({ values: fc.array(tie('value'), { maxLength: 3 }) }) }),
  ),
  struct: fc.record({
    fields: fc.dictionary(
      key.filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 3 },
    ),
  }),
}));

const headerValue = fc.oneof(
  fc.record({ key: text, value: text }, { requiredKeys: ['key'] }),
  fc.record({ key: text, rawValue: fc.uint8Array({ maxLength: 8 }) }, { requiredKeys: ['key'] }),
);

const httpArb = fc.record(
  {
    id: text,
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'DELETE'), text),
    path: fc.oneof(fc.constantFrom('/', '/a/b?x=1#f', '/a%2Fb', '//x/../y'), text),
    host: text,
    scheme: fc.constantFrom('http', 'https', ''),
    query: text,
    fragment: text,
    size: fc.integer({ min: 0, max: 1_000_000 }),
    protocol: fc.constantFrom('HTTP/1.1', 'HTTP/2', ''),
    body: text,
    headers: map,
    headerMap: fc.record({ headers: fc.array(headerValue, { maxLength: 4 }) }),
  },
  { requiredKeys: [] },
);

const requestArb: fc.Arbitrary<WireCheckRequest> = fc.record(
  {
    attributes: fc.record(
      {
        source: peer,
        destination: peer,
        request: fc.record(
          {
            time: fc.record(
              {
                seconds: fc.integer({ min: -1000, max: 4_000_000_000 }),
                nanos: fc.integer({ min: 0, max: 999_999_999 }),
              },
              { requiredKeys: [] },
            ),
            http: httpArb,
          },
          { requiredKeys: [] },
        ),
        contextExtensions: map,
        tlsSession: fc.record({ sni: text }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<WireCheckRequest>;

/** CheckInput, or the reason toCheckInput refused it, as plain JSON. */
function inputOf(request: WireCheckRequest): unknown {
  let input: CheckInput;
  try {
    input = toCheckInput(request, { maxPathBytes: 1 << 30, maxHeaderBytes: 1 << 30, maxHeaders: 1 << 30 }, 0);
  } catch (err) {
    return { refused: (err as Error).message };
  }
  return JSON.parse(JSON.stringify(input));
}

function encode(request: WireCheckRequest): Buffer {
  const message = CheckRequestType.fromObject(request as Record<string, unknown>);
  return Buffer.from(CheckRequestType.encode(message).finish());
}

describe('the one-pass CheckRequest reader reads what protobufjs reads', () => {
  it('gives the same CheckInput for any well-formed CheckRequest', () => {
    fc.assert(
      fc.property(
        requestArb,
        fc.dictionary(text, valueArb as fc.Arbitrary<WireValue>, { maxKeys: 2 }),
        (request, meta) => {
          if (request.attributes && Object.keys(meta).length > 0) {
            request.attributes.metadataContext = {
              filterMetadata: { 'envoy.filters.http.jwt_authn': { fields: meta } },
            };
          }
          const bytes = encode(request);
          const ours = readCheckRequest(bytes, NO_LIMITS);
          if ('malformed' in ours) throw new Error(`refused a well-formed request: ${ours.malformed}`);
          const theirs = CheckRequestType.decode(bytes) as unknown as WireCheckRequest;
          expect(inputOf(ours)).toEqual(inputOf(theirs));
        },
      ),
      RUNS,
    );
  });

  it('never throws on damaged bytes, and what it accepts stays within the limits', () => {
    const limits = { maxPathBytes: 64, maxHeaderBytes: 256, maxHeaders: 4, maxLabels: 3 };
    fc.assert(
      fc.property(
        requestArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (request, edits, cut) => {
          const bytes = encode(request);
          for (const [at, value] of edits) if (bytes.length > 0) bytes[at % bytes.length] = value;
          const damaged = bytes.subarray(0, bytes.length === 0 ? 0 : bytes.length - (cut % 3));
          const result = readCheckRequest(damaged, limits);
          if ('malformed' in result) {
            expect(result.malformed).toMatch(/^(invalid CheckRequest|over a limit)/);
            return;
          }
          const http = result.attributes?.request?.http;
          const count = Object.keys(http?.headers ?? {}).length + (http?.headerMap?.headers?.length ?? 0);
          expect(count).toBeLessThanOrEqual(limits.maxHeaders);
          expect(Buffer.byteLength(http?.path ?? '')).toBeLessThanOrEqual(limits.maxPathBytes);
        },
      ),
      RUNS,
    );
  });
});
