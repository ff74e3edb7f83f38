import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

/**
 * A minimal OTLP/HTTP traces receiver for tests: it accepts `POST /v1/traces` with an
 * `application/x-protobuf` body and decodes it with protobufjs from our own hand-written subset of
 * opentelemetry-proto (test/fixtures/otlp-trace.proto), independently of the SDK's serializer.
 */

const PROTO = fileURLToPath(new URL('../fixtures/otlp-trace.proto', import.meta.url));

export type AttrValue = string | number | boolean | AttrValue[] | null;

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, AttrValue>;
  readonly events: { name: string; attributes: Record<string, AttrValue> }[];
  readonly status: { code: number; message: string };
  readonly resource: Record<string, AttrValue>;
}

interface AnyValueMsg {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | { toNumber(): number };
  doubleValue?: number;
  arrayValue?: { values?: AnyValueMsg[] };
}
interface KeyValueMsg {
  key: string;
  value?: AnyValueMsg;
}
interface SpanMsg {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId?: Uint8Array;
  name: string;
  kind?: number;
  attributes?: KeyValueMsg[];
  events?: { name: string; attributes?: KeyValueMsg[] }[];
  status?: { code?: number; message?: string };
}
interface RequestMsg {
  resourceSpans?: { resource?: { attributes?: KeyValueMsg[] }; scopeSpans?: { spans?: SpanMsg[] }[] }[];
}

function anyValue(v: AnyValueMsg | undefined): AttrValue {
  if (v === undefined) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return typeof v.intValue === 'number' ? v.intValue : v.intValue.toNumber();
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue);
  return null;
}

function attributes(kvs: KeyValueMsg[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of kvs ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? new Uint8Array()).toString('hex');

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Every request body as received (protobuf bytes), for byte-level secret scans. */
  readonly bodies: Buffer[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  private constructor(
    private readonly server: Server,
    private readonly type: protobuf.Type,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    const root = await protobuf.load(PROTO);
    const type = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
    const server = createServer();
    const receiver = new OtlpReceiver(server, type);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        receiver.accept(body);
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return receiver;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v1/traces`;
  }

  private accept(body: Buffer): void {
    this.bodies.push(body);
    const msg = this.type.toObject(this.type.decode(body), { defaults: false }) as RequestMsg;
    for (const rs of msg.resourceSpans ?? []) {
      const resource = attributes(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            traceId: hex(s.traceId),
            spanId: hex(s.spanId),
            parentSpanId: hex(s.parentSpanId),
            name: s.name,
            kind: s.kind ?? 0,
            attributes: attributes(s.attributes),
            events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attributes(e.attributes) })),
            status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
            resource,
          });
        }
      }
    }
    this.waiters = this.waiters.filter((w) => {
      if (this.spans.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once at least `count` spans have arrived. */
  waitFor(count: number): Promise<void> {
    if (this.spans.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}
