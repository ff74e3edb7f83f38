import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRequestBody, GRPC_CHECK_PATH } from '../../bench/frame.js';
import { H2LOAD } from '../../bench/h2load.js';
import { httpCheck, startService, TRANSPORTS } from '../support/harness.js';

/**
 * h2load (nghttp2's C client, the bench's load driver) against both transports: many concurrent streams over a
 * few connections, every one answered with HTTP 200 (the gRPC status is in the trailers, which h2load does not
 * read: the other suites check those). A count, never a speed: speed is `npm run bench`.
 */

/** Runs h2load asynchronously: the server under test shares this process's event loop. */
async function h2load(port: number, bodyFile: string): Promise<string> {
  const args = ['-n', '400', '-c', '2', '-m', '16', '-d', bodyFile, '-H', 'content-type: application/grpc'];
  args.push('-H', 'te: trailers', `http://127.0.0.1:${port}${GRPC_CHECK_PATH}`);
  const { stdout } = await promisify(execFile)(H2LOAD, args, { encoding: 'utf8', timeout: 60_000 });
  return stdout;
}

describe.each(TRANSPORTS)('h2load against transport %s', (transport) => {
  let dir: string;
  let port: number;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'h2load-'));
    const { service, addresses } = await startService({ server: { transport } });
    port = Number(addresses.grpc.split(':').pop());
    stop = () => service.shutdown('test');
  });
  afterAll(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['allowed', '/allowed/x'],
    ['denied', '/secret'],
  ])('answers 400 %s checks over 2 connections x 16 streams, every one', async (_, path) => {
    const body = join(dir, `${path.replace(/\W/g, '')}.bin`);
    writeFileSync(body, checkRequestBody(httpCheck(path)));
    const out = await h2load(port, body);
    expect(out).toMatch(/requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored/);
    expect(out).toMatch(/status codes: 400 2xx/);
  });
});
