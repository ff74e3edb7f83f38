import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRPC_CHECK_PATH } from '../../bench/frame.js';
import { type BuiltCli, buildCli } from '../support/built-cli.js';
import { type ServeProcess, startServeProcess } from '../support/serve-process.js';

/**
 * The connection guard's resets are visible to the operator: `mesh_authz_stream_resets_total{reason}` on the real
 * server's /metrics counts the streams it reset, so an SRE sees an attack (or a broken client) without logs.
 */

async function resetCount(admin: string, reason: string): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`mesh_authz_stream_resets_total{reason="${reason}"}`));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

describe('mesh_authz_stream_resets_total', () => {
  let cli: BuiltCli;
  let dir: string;
  let server: ServeProcess;

  beforeAll(async () => {
    cli = buildCli('stream-resets');
    dir = mkdtempSync(join(tmpdir(), 'stream-resets-'));
    server = await startServeProcess(cli, dir, { messageTimeoutMs: 200, prefaceTimeoutMs: 300 });
  }, 60_000);
  afterAll(async () => {
    server?.run.child.kill('SIGKILL');
    await server?.run.exit;
    cli?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts at zero for every reason (the series exist before any attack)', async () => {
    for (const reason of ['connection_cap', 'total_cap', 'message_timeout', 'no_preface']) {
      expect(await resetCount(server.admin, reason), reason).toBe(0);
    }
  });

  it('counts streams reset for a message left unfinished past server.messageTimeoutMs', async () => {
    // Three streams each announce a 1000-byte CheckRequest and send 10 bytes of it, then wait.
    const session = http2.connect(`http://${server.grpc}`);
    session.on('error', () => {});
    try {
      const codes = await Promise.all(
        [1, 2, 3].map(
          () =>
            new Promise<number>((resolve) => {
              const stream = session.request(
                { ':method': 'POST', ':path': GRPC_CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers' },
                { endStream: false },
              );
              stream.on('error', () => {});
              stream.on('close', () => resolve(stream.rstCode ?? -1));
              const prefix = Buffer.alloc(5);
              prefix.writeUInt32BE(1000, 1);
              stream.write(Buffer.concat([prefix, Buffer.alloc(10, 0x61)]));
            }),
        ),
      );
      expect(codes).toEqual([0xb, 0xb, 0xb]); // ENHANCE_YOUR_CALM: the guard's reset, not a normal end
      expect(await resetCount(server.admin, 'message_timeout')).toBe(3);
      // Read again: the counter is cumulative, not a per-scrape delta.
      expect(await resetCount(server.admin, 'message_timeout')).toBe(3);
      expect(await resetCount(server.admin, 'connection_cap')).toBe(0);
    } finally {
      session.destroy();
    }
  }, 60_000);

  it('closes a connection that never sends the HTTP/2 preface, and keeps one that did', async () => {
    const [host, port] = server.grpc.split(':');
    // A TCP client that connects and says nothing: Node alone would keep it open forever.
    const silent = net.connect(Number(port), host);
    silent.on('error', () => {});
    silent.resume(); // read, so the server's close is seen
    const closed = new Promise<void>((resolve) => silent.on('close', () => resolve()));
    // The other side: a real client that sent its preface and a Check stays connected past the timeout.
    const talker = http2.connect(`http://${server.grpc}`);
    talker.on('error', () => {});
    let talkerClosed = false;
    talker.on('close', () => {
      talkerClosed = true;
    });
    try {
      await new Promise<void>((resolve) => talker.once('remoteSettings', () => resolve()));
      await closed;
      await new Promise((r) => setTimeout(r, 400));
      expect(talkerClosed).toBe(false);
      expect(await resetCount(server.admin, 'no_preface')).toBe(1);
    } finally {
      silent.destroy();
      talker.destroy();
    }
  }, 60_000);
});
