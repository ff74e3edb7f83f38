import http2 from 'node:http2';
import type { WireCheckRequest } from '../src/authz/wire-types.js';
import { checkRequestBody, GRPC_CHECK_PATH } from './frame.js';

/**
 * Hostile clients, for the attack test (test/security/hostile-clients.test.ts) and `npm run bench:hostile`:
 * - {@link openHoldingStreams}: many HTTP/2 streams, each announcing a large gRPC message and sending most of it,
 *   never the rest (what took the server from 145 MB to 812 MB before the buffer caps);
 * - {@link oversizedCheckBody}: a CheckRequest of tens of thousands of headers (~0.6 MB) that is complete, valid
 *   protobuf, and costly to decode into objects.
 */

export interface HoldingAttack {
  /** Resolves when every stream has either sent its bytes or been closed by the server. */
  readonly settled: Promise<void>;
  /** Streams the server reset or closed before they could send everything. */
  closedByServer(): number;
  close(): void;
}

export interface HoldingOptions {
  readonly connections: number;
  readonly streamsPerConnection: number;
  /** The message length the 5-byte gRPC prefix announces. */
  readonly announceBytes: number;
  /** How many of those bytes are sent (fewer than announced: the message never completes). */
  readonly sendBytes: number;
}

export function openHoldingStreams(address: string, options: HoldingOptions): HoldingAttack {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(options.announceBytes, 1);
  // One shared body: the attacker's own memory stays small, as a real one's would.
  const body = Buffer.alloc(options.sendBytes, 0x61);
  const sessions: http2.ClientHttp2Session[] = [];
  const done: Promise<void>[] = [];
  let closed = 0;
  for (let c = 0; c < options.connections; c++) {
    const session = http2.connect(`http://${address}`);
    session.on('error', () => {});
    sessions.push(session);
    for (let s = 0; s < options.streamsPerConnection; s++) {
      done.push(
        new Promise<void>((resolve) => {
          const stream = session.request(
            {
              ':method': 'POST',
              ':path': GRPC_CHECK_PATH,
              'content-type': 'application/grpc',
              te: 'trailers',
            },
            { endStream: false },
          );
          let finished = false;
          const finish = (byServer: boolean) => {
            if (finished) return;
            finished = true;
            if (byServer) closed++;
            resolve();
          };
          stream.on('error', () => finish(true));
          stream.on('close', () => finish(true));
          stream.on('response', () => {});
          stream.on('data', () => {});
          stream.write(prefix);
          stream.write(body, (err) => finish(err !== null && err !== undefined));
        }),
      );
    }
  }
  return {
    settled: Promise.all(done).then(() => undefined),
    closedByServer: () => closed,
    close() {
      for (const s of sessions) s.destroy();
    },
  };
}

/** A complete CheckRequest of about `targetBytes`, made of many small headers. */
export function oversizedCheckBody(targetBytes: number): Buffer {
  const headers: Record<string, string> = { ':method': 'GET', ':path': '/allowed/x', ':authority': 'orders.shop' };
  const count = Math.ceil(targetBytes / 24);
  for (let i = 0; i < count; i++) headers[`x-h-${i.toString(36)}`] = `v${i.toString(36).padStart(8, '0')}`;
  const request: WireCheckRequest = {
    attributes: {
      request: { http: { id: 'big', method: 'GET', path: '/allowed/x', host: 'orders.shop', headers } },
      contextExtensions: { namespace: 'shop', app: 'orders' },
    },
  };
  return checkRequestBody(request);
}
