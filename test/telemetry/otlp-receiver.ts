import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

/**
 * A minimal OTLP/HTTP receiver for tests: it accepts `POST /v1/traces` and `POST /v1/logs` with an
 * `application/x-protobuf` body and decodes them with protobufjs from our own hand-written subset of
 * opentelemetry-proto (test/fixtures/otlp-trace.proto, otlp-logs.proto), independently of the SDK's serializer.
 *
 * `mode` plays a collector's failures: `ok`; `fail` answers 400 (not retryable, so the exporter reports the
 * failure at once); `hang` reads the request and never answers (a collector that is stuck).
 */

const PROTO = fileURLToPath(new URL('../fixtures/otlp-trace.proto', import.meta.url));
const LOGS_PROTO = fileURLToPath(new URL('../fixtures/otlp-logs.proto', import.meta.url));

export type ReceiverMode = 'ok' | 'fail' | 'hang';

export interface ReceivedLog {
  readonly traceId: string;
  readonly spanId: string;
  readonly eventName: string;
  readonly severityNumber: number;
  readonly body: AttrValue;
  readonly attributes: Record<string, AttrValue>;
  readonly resource: Record<string, AttrValue>;
  readonly scope: string;
}

interface LogsRequestMsg {
  resourceLogs?: {
    resource?: { attributes?: KeyValueMsg[] };
    scopeLogs?: {
      scope?: { name?: string };
      logRecords?: {
        traceId?: Uint8Array;
        spanId?: Uint8Array;
        eventName?: string;
        severityNumber?: number;
        body?: AnyValueMsg;
        attributes?: KeyValueMsg[];
      }[];
    }[];
  }[];
}

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
  kvlistValue?: { values?: KeyValueMsg[] };
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
  if (v.kvlistValue !== undefined) return attributes(v.kvlistValue.values) as unknown as AttrValue;
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
  readonly logs: ReceivedLog[] = [];
  mode: ReceiverMode = 'ok';
  /** Requests received per path, whatever the mode. */
  readonly requests: Record<string, number> = {};
  /** Every request body as received (protobuf bytes), for byte-level secret scans. */
  readonly bodies: Buffer[] = [];
  private waiters: { count: number; resolve: () => void; logs?: boolean }[] = [];

  private constructor(
    private readonly server: Server,
    private readonly type: protobuf.Type,
    private readonly logsType: protobuf.Type,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    const root = await protobuf.load(PROTO);
    const type = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
    const logsRoot = await protobuf.load(LOGS_PROTO);
    const logsType = logsRoot.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
    const server = createServer();
    const receiver = new OtlpReceiver(server, type, logsType);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '';
        receiver.requests[path] = (receiver.requests[path] ?? 0) + 1;
        if (req.method !== 'POST' || (path !== '/v1/traces' && path !== '/v1/logs')) {
          res.writeHead(404).end();
          return;
        }
        if (receiver.mode === 'hang') return;
        if (receiver.mode === 'fail') {
          res.writeHead(400, { 'content-type': 'text/plain' }).end('collector refuses');
          return;
        }
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        if (path === '/v1/logs') receiver.acceptLogs(body);
        else receiver.accept(body);
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

  get logsUrl(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v1/logs`;
  }

  private acceptLogs(body: Buffer): void {
    const msg = this.logsType.toObject(this.logsType.decode(body), { defaults: false }) as LogsRequestMsg;
    for (const rl of msg.resourceLogs ?? []) {
      const resource = attributes(rl.resource?.attributes);
      for (const sl of rl.scopeLogs ?? []) {
        for (const r of sl.logRecords ?? []) {
          this.logs.push({
            traceId: hex(r.traceId),
            spanId: hex(r.spanId),
            eventName: r.eventName ?? '',
            severityNumber: r.severityNumber ?? 0,
            body: anyValue(r.body),
            attributes: attributes(r.attributes),
            resource,
            scope: sl.scope?.name ?? '',
          });
        }
      }
    }
    this.notify();
  }

  private notify(): void {
    this.waiters = this.waiters.filter((w) => {
      if ((w.logs ? this.logs.length : this.spans.length) < w.count) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once at least `count` log records have arrived. */
  waitForLogs(count: number): Promise<void> {
    if (this.logs.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve, logs: true }));
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
    this.notify();
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
