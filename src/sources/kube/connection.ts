import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { KubeError } from './errors.js';

/** Where the API server is and how to authenticate to it. */
export interface KubeConnection {
  readonly server: string;
  readonly token?: string;
  /**
   * A file holding the bearer token, re-read as it changes: the kubelet rotates projected service account tokens
   * (bound tokens expire), so a token read once at start would stop working.
   */
  readonly tokenFile?: string;
  /** PEM CA bundle that signs the API server's certificate. */
  readonly ca?: string;
  /** PEM client certificate and key (mTLS to the API server). */
  readonly cert?: string;
  readonly key?: string;
  readonly skipTLSVerify?: boolean;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * A connection from a kubeconfig file (its current context), or, without a file, from `$KUBECONFIG`, in-cluster
 * service account credentials, then `~/.kube/config`, in that order (as kubectl does).
 */
export function loadKubeConnection(file?: string): KubeConnection {
  if (file) return fromKubeconfig(file);
  const env = process.env['KUBECONFIG']?.split(':')[0];
  if (env) return fromKubeconfig(env);
  const host = process.env['KUBERNETES_SERVICE_HOST'];
  if (host) {
    const port = process.env['KUBERNETES_SERVICE_PORT'] ?? '443';
    const tokenFile = join(SA_DIR, 'token');
    return {
      server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
      token: readOrFail(tokenFile, 'the service account token (is automountServiceAccountToken off?)').trim(),
      tokenFile,
      ca: readOrFail(join(SA_DIR, 'ca.crt'), "the cluster's CA"),
    };
  }
  return fromKubeconfig(join(homedir(), '.kube', 'config'));
}

function readOrFail(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new KubeError('kube_config', `cannot read ${what} at ${file}: ${(err as Error).message}`, { cause: err });
  }
}

type Named<T> = { name: string } & T;

function fromKubeconfig(file: string): KubeConnection {
  let doc: {
    'current-context'?: string;
    contexts?: Named<{ context: { cluster: string; user: string } }>[];
    clusters?: Named<{ cluster: Record<string, unknown> }>[];
    users?: Named<{ user: Record<string, unknown> }>[];
  };
  try {
    doc = parse(readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    throw new KubeError('kube_config', `${file}: ${(err as Error).message}`, { cause: err });
  }
  const ctx = doc.contexts?.find((c) => c.name === doc['current-context'])?.context;
  const cluster = doc.clusters?.find((c) => c.name === ctx?.cluster)?.cluster;
  const user = doc.users?.find((u) => u.name === ctx?.user)?.user ?? {};
  if (!cluster || typeof cluster['server'] !== 'string') {
    throw new KubeError('kube_config', `${file}: no cluster for current-context '${doc['current-context']}'`);
  }
  const base = dirname(file);
  const pem = (data: unknown, path: unknown): string | undefined => {
    if (typeof data === 'string') return Buffer.from(data, 'base64').toString('utf8');
    if (typeof path === 'string') return readFileSync(isAbsolute(path) ? path : join(base, path), 'utf8');
    return undefined;
  };
  const token =
    typeof user['token'] === 'string'
      ? user['token']
      : typeof user['tokenFile'] === 'string'
        ? readOrFail(user['tokenFile'], 'the kubeconfig tokenFile').trim()
        : undefined;
  const conn: {
    -readonly [K in keyof KubeConnection]: KubeConnection[K];
  } = { server: cluster['server'] };
  if (token) conn.token = token;
  if (typeof user['token'] !== 'string' && typeof user['tokenFile'] === 'string') conn.tokenFile = user['tokenFile'];
  const ca = pem(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (ca) conn.ca = ca;
  const cert = pem(user['client-certificate-data'], user['client-certificate']);
  if (cert) conn.cert = cert;
  const key = pem(user['client-key-data'], user['client-key']);
  if (key) conn.key = key;
  if (cluster['insecure-skip-tls-verify'] === true) conn.skipTLSVerify = true;
  return conn;
}
