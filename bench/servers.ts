import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { BenchFixture } from './fixtures.js';
import { AUDIENCE, ISSUER, TRUST_DOMAIN } from './fixtures.js';
import { GRPC_CHECK_PATH } from './frame.js';
import { responseCode } from './loadgen.js';

/** Starting and stopping the two servers under test (each in its own process), and probing them until ready. */

export interface RunningServer {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly adminPort: number | null;
}

export interface MeshScenario {
  readonly cache: boolean;
  /** Tracing on: every deny and 1% of allows exported over OTLP/HTTP to a local sink. */
  readonly tracing: boolean;
  /** Decision log on: every deny (mode `deny`). */
  readonly decisionLog: boolean;
  /** The deny rate limit on spans and log lines (telemetry.denyRateLimit); default on (100/s per policy+reason). */
  readonly denyRateLimit?: boolean;
  /** `server.transport`; the config default when absent. */
  readonly transport?: 'grpc-js' | 'http2';
}

/**
 * Extra node flags for the servers under test, e.g. `BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`
 * to profile them (NODE_OPTIONS refuses --cpu-prof).
 */
export function serverNodeArgs(): string[] {
  return (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** The pass-through floor, or with `decode` the proto-loader one, or `raw` node:http2 (floor-server.ts). */
export const DECODE_FLOOR = 'floor (proto-loader decode)';
export const RAW_FLOOR = 'raw node:http2 fixed response';

export async function startFloor(
  root: string,
  logDir: string,
  decode: boolean | 'raw' = false,
): Promise<RunningServer> {
  const mode = decode === 'raw' ? 'raw' : decode ? 'decode' : 'pass';
  const args = [...serverNodeArgs(), join(root, 'dist/bench/floor-server.js'), '0', mode];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const name = mode === 'raw' ? RAW_FLOOR : mode === 'decode' ? DECODE_FLOOR : 'floor';
  child.stderr!.pipe(createWriteStream(join(logDir, `${mode === 'pass' ? 'floor' : `floor-${mode}`}.server.log`)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
  });
  return { name, child, pid: child.pid!, port, adminPort: null };
}

/** Writes the config of one scenario (JSON is YAML) and returns its path. */
export async function writeMeshConfig(
  fixture: BenchFixture,
  scenario: MeshScenario,
  ports: { port: number; adminPort: number; otlpPort: number },
  name: string,
): Promise<string> {
  const decisionsFile = join(fixture.dir, `${name}.decisions.log`);
  const config = {
    server: { listen: `127.0.0.1:${ports.port}`, ...(scenario.transport ? { transport: scenario.transport } : {}) },
    admin: { enabled: true, listen: `127.0.0.1:${ports.adminPort}` },
    policy: { paths: [fixture.policyDir], trustDomain: TRUST_DOMAIN, watch: false },
    identity: {
      trustBundles: [{ trustDomain: TRUST_DOMAIN, pem: fixture.caPath }],
      peer: { sources: ['certificate'] },
      jwt: {
        issuers: [
          {
            issuer: ISSUER,
            jwks: { file: fixture.jwksPath },
            audiences: [AUDIENCE],
            algorithms: ['ES256'],
            groupsClaims: ['groups'],
          },
        ],
      },
    },
    telemetry: {
      log: scenario.decisionLog
        ? { level: 'info', decisions: 'deny', destination: decisionsFile }
        : { level: 'warn', decisions: 'none', destination: decisionsFile },
      tracing: scenario.tracing
        ? { enabled: true, endpoint: `http://127.0.0.1:${ports.otlpPort}/v1/traces`, allowSampleRate: 0.01 }
        : { enabled: false },
      metrics: { enabled: true },
      ...(scenario.denyRateLimit === false ? { denyRateLimit: { perSecond: 0, burst: 1 } } : {}),
    },
    cache: { enabled: scenario.cache, maxEntries: 100_000 },
  };
  const path = join(fixture.dir, `${name}.config.yaml`);
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

/** mesh-authz is measured exactly as users run it: `serve --config`. */
export function meshEntry(root: string): { argv: (config: string) => string[]; label: string } {
  return {
    argv: (config) => [join(root, 'dist/src/cli/main.js'), 'serve', '--config', config],
    label: 'node dist/src/cli/main.js serve --config <generated>',
  };
}

export async function startMesh(
  root: string,
  fixture: BenchFixture,
  scenario: MeshScenario,
  name: string,
  otlpPort: number,
): Promise<RunningServer> {
  const port = await freePort();
  const adminPort = await freePort();
  const configPath = await writeMeshConfig(fixture, scenario, { port, adminPort, otlpPort }, name);
  const child = spawn(process.execPath, [...serverNodeArgs(), ...meshEntry(root).argv(configPath)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OTEL_SDK_DISABLED: scenario.tracing ? 'false' : 'true' },
  });
  const log = createWriteStream(join(fixture.dir, `${name}.server.log`));
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return { name, child, pid: child.pid!, port, adminPort };
}

/** One Check over HTTP/2: the gRPC status and the CheckResponse status code. */
export function probe(port: number, body: Buffer, timeoutMs = 2000): Promise<{ grpc: string; code: number }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error('probe timed out'));
    }, timeoutMs);
    session.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    const stream = session.request({
      ':method': 'POST',
      ':path': GRPC_CHECK_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let grpc = '';
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('trailers', (t) => {
      grpc = String(t['grpc-status'] ?? '');
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      clearTimeout(timer);
      session.close();
      resolve({ grpc, code: responseCode(Buffer.concat(chunks)) });
    });
    stream.end(body);
  });
}

/** Waits until the server answers a Check with a decision (not UNAVAILABLE: policies loaded). */
export async function waitReady(server: RunningServer, body: Buffer, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < until) {
    if (server.child.exitCode !== null) throw new Error(`${server.name} exited with ${server.child.exitCode}`);
    try {
      const r = await probe(server.port, body);
      if (r.grpc === '0' && r.code !== 14) return;
      last = `grpc-status ${r.grpc}, check status ${r.code}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${server.name} not ready after ${timeoutMs} ms (${last})`);
}

export async function stop(server: RunningServer): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 8000);
  await exited;
  clearTimeout(timer);
}
