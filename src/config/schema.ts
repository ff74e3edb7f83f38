import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_GROUPS_CLAIMS } from '../identity/options.js';
import { PATH_NORMALIZATIONS, type PathNormalization } from '../policy/normalize.js';
import { ISTIO_DEFAULTS } from '../policy/options.js';

/**
 * The config file's schema and defaults. Every section is optional: an empty file is a valid config that serves
 * plaintext on loopback with no policies loaded (and so denies everything until policies are given).
 * Paths in the file are resolved relative to the file's own folder.
 */

/** A TCP port, 0–65535, as a regular expression (so the published JSON Schema says exactly the same). */
const PORT = '(?:6553[0-5]|655[0-2]\\d|65[0-4]\\d{2}|6[0-4]\\d{3}|[1-5]\\d{4}|\\d{1,4})';
const HOST_PORT = new RegExp(`^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+):${PORT}$`);
const HOST_PORT_HINT =
  'expected host:port with a port from 0 to 65535, e.g. 127.0.0.1:9191 (0.0.0.0:9191 for every interface)';

const hostPort = z.string().regex(HOST_PORT, HOST_PORT_HINT);

/**
 * An object section that may be left out: its default is what `{}` parses to. Each default is written once, on its
 * own field, and a section's default is derived from them (never restated as a literal that could drift).
 */
function section<T extends z.ZodType<object>>(schema: T) {
  return schema.default(schema.parse({}) as z.util.NoUndefined<z.output<T>>);
}

/** Where a bearer token is read from; the same default for end-user JWTs and JWT-SVIDs. */
const tokenHeaders = z
  .array(z.object({ name: z.string().min(1), prefix: z.string().default('') }).strict())
  .default([{ name: 'authorization', prefix: 'Bearer ' }]);

/** Why `value` is not a listen address (a bare port, a port out of range…), or null when it is one. */
export function hostPortProblem(value: string): string | null {
  if (HOST_PORT.test(value)) return null;
  if (/^\d+$/.test(value)) return `a bare port; ${HOST_PORT_HINT}`;
  return HOST_PORT_HINT;
}

const tlsSchema = z
  .object({
    cert: z.string().min(1).describe('PEM certificate chain (the server SVID)'),
    key: z.string().min(1).describe('PEM private key'),
    clientCa: z.string().min(1).optional().describe('PEM CA bundle to verify client certificates (mTLS)'),
    requireClientCert: z.boolean().default(false),
    watch: z.boolean().default(true).describe('reload cert/key/CA when the files change'),
  })
  .strict();

const serverSchema = z
  .object({
    listen: hostPort.default('127.0.0.1:9191'),
    tls: tlsSchema.optional(),
    /**
     * The gRPC transport: `http2`, a lean unary gRPC server on node:http2 (about half the CPU per Check, see
     * docs/benchmarks.md), or `grpc-js` (@grpc/grpc-js); same pipeline, health, limits and TLS
     * (docs/configuration.md, "The gRPC transport").
     */
    transport: z.enum(['grpc-js', 'http2']).default('http2'),
    /**
     * Processes answering checks on the shared listener (node:cluster): a number, or `auto` = the CPUs available,
     * bounded by the container's CPU quota. Each holds its own policy set and decision cache; 1 = no cluster.
     */
    workers: z
      .union([z.number().int().min(1).max(64), z.literal('auto')])
      .default(1)
      .describe('worker processes: a number from 1 to 64, or auto (available CPUs, bounded by the CPU quota)'),
    /** Internal deadline for one Check when Envoy sent no grpc-timeout. */
    checkTimeoutMs: z.number().int().positive().default(200),
    /**
     * On SIGTERM: how long the server keeps accepting connections and answering checks while health and /readyz
     * say NOT_SERVING, so Kubernetes and Envoy stop sending here before the listener closes.
     */
    shutdownGraceMs: z.number().int().nonnegative().default(5000),
    /** Graceful shutdown: after the grace, how long in-flight checks and telemetry flushes may take, in all. */
    drainTimeoutMs: z.number().int().nonnegative().default(5000),
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .default(1 << 20),
    maxPathBytes: z.number().int().positive().default(8192),
    maxHeaderBytes: z.number().int().positive().default(65536),
    maxHeaders: z.number().int().positive().default(200),
    /** Entries of each of source.labels, destination.labels and context_extensions (checked while decoding). */
    maxLabels: z.number().int().positive().default(256),
    /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: streams one connection may have open at once. */
    maxConcurrentStreams: z.number().int().positive().default(256),
    /** Bytes of unfinished gRPC messages one connection may have buffered; past it its largest is reset. */
    maxBufferedBytesPerConnection: z
      .number()
      .int()
      .positive()
      .default(4 << 20),
    /** Bytes of unfinished gRPC messages all connections together may have buffered. */
    maxBufferedBytes: z
      .number()
      .int()
      .positive()
      .default(32 << 20),
    /** A stream whose request message is not complete this long after it opened is reset. */
    messageTimeoutMs: z.number().int().positive().default(5000),
    /** A connection that has not sent the HTTP/2 preface this long after it opened (after TLS) is closed. */
    prefaceTimeoutMs: z.number().int().positive().default(5000),
    /** A TLS handshake not finished this long after the TCP connection is dropped. */
    tlsHandshakeTimeoutMs: z.number().int().positive().default(5000),
    /** HTTP/2 PING interval on an open connection (finds dead peers; Envoy answers pings). */
    keepaliveTimeMs: z.number().int().positive().default(30_000),
    /** A PING not answered this long closes the connection. */
    keepaliveTimeoutMs: z.number().int().positive().default(10_000),
    /** node:http2 maxSessionMemory (MB): memory nghttp2 may hold per connection before refusing new streams. */
    maxSessionMemoryMb: z.number().int().positive().default(32),
    /** Istio numTrustedProxies: how many X-Forwarded-For hops to trust for `remote.ip`. */
    trustedProxies: z.number().int().nonnegative().default(0),
  })
  .strict();

/** What a deny tells the caller (Envoy forwards it downstream); see docs/configuration.md. */
const responseSchema = z
  .object({
    detail: z.enum(['minimal', 'policy', 'full']).default('minimal'),
  })
  .strict();

const adminSchema = z
  .object({
    listen: hostPort.default('127.0.0.1:9192'),
    enabled: z.boolean().default(true),
  })
  .strict();

const workloadSchema = z
  .object({
    namespace: z.string().min(1),
    labels: z.record(z.string(), z.string()).default({}),
    serviceAccount: z.string().min(1).optional(),
    /** For explanations and logs. */
    name: z.string().min(1).optional(),
    /** The workload's IP addresses (pod IPs): requests to them resolve to this workload's labels. */
    addresses: z
      .array(z.string().refine((a) => isIP(a) !== 0, { message: 'expected an IP address, e.g. 10.0.0.12' }))
      .default([]),
  })
  .strict();

const policySchema = z
  .object({
    paths: z.array(z.string().min(1)).default([]),
    rootNamespace: z.string().min(1).default(ISTIO_DEFAULTS.rootNamespace),
    mode: z.enum(['enforce', 'dry-run']).default('enforce'),
    pathNormalization: z
      .enum(PATH_NORMALIZATIONS as [PathNormalization, ...PathNormalization[]])
      .default(ISTIO_DEFAULTS.pathNormalization),
    trustDomain: z.string().min(1).default(ISTIO_DEFAULTS.trustDomain),
    trustDomainAliases: z.array(z.string().min(1)).default([]),
    watch: z.boolean().default(true),
    /**
     * Known workloads: the workload registry of a mesh without Kubernetes (destination IP or principal → labels),
     * and the list coverage warnings are computed over.
     */
    workloads: z.array(workloadSchema).default([]),
    /** Apply a reload that drops every policy of a namespace (or of the root namespace). Default: refuse it. */
    allowEmpty: z.boolean().default(false),
    /** Quiet time after a policy file event before reading, and between the two reads that must agree. */
    reloadDebounceMs: z.number().int().positive().max(60_000).default(200),
    /** How long a policy file that became empty, lost every document or disappeared must stay so to be applied. */
    emptyFileGraceMs: z.number().int().nonnegative().max(600_000).default(3000),
  })
  .strict()
  .superRefine((policy, ctx) => {
    // One address, one workload: an address listed twice would make resolution depend on list order.
    const seen = new Map<string, number>();
    policy.workloads.forEach((w, i) => {
      w.addresses.forEach((a, j) => {
        const key = canonicalIp(a);
        const first = seen.get(key);
        if (first === undefined) seen.set(key, i);
        else {
          ctx.addIssue({
            code: 'custom',
            path: ['workloads', i, 'addresses', j],
            message: `address ${a} is already listed by policy.workloads[${first}]`,
          });
        }
      });
    });
  });

/** The form addresses are compared in: lowercase, IPv4-mapped IPv6 as plain IPv4. */
export function canonicalIp(address: string): string {
  const a = address.trim().toLowerCase();
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

const bundleSchema = z
  .object({
    trustDomain: z.string().min(1),
    pem: z.string().min(1).optional().describe('PEM file of X.509 roots for this trust domain'),
    spiffeBundle: z.string().min(1).optional().describe('SPIFFE bundle document (JWK Set) file'),
    endpoint: z.string().url().optional().describe('SPIFFE bundle endpoint URL (https_web)'),
    refreshSeconds: z.number().int().positive().optional(),
  })
  .strict()
  .refine((b) => b.pem !== undefined || b.spiffeBundle !== undefined || b.endpoint !== undefined, {
    message: 'a trust bundle needs one of pem, spiffeBundle or endpoint',
  });

const issuerSchema = z
  .object({
    issuer: z.string().min(1),
    jwks: z
      .object({ file: z.string().min(1).optional(), url: z.string().url().optional() })
      .strict()
      .refine((j) => (j.file === undefined) !== (j.url === undefined), { message: 'set exactly one of file or url' }),
    audiences: z.array(z.string().min(1)).min(1, 'list at least one expected audience'),
    algorithms: z
      .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
      .default(['RS256', 'ES256']),
    leewaySeconds: z.number().int().min(0).max(300).default(60),
    fromHeaders: tokenHeaders,
    groupsClaims: z.array(z.string().min(1)).default([...DEFAULT_GROUPS_CLAIMS]),
    jwksCooldownSeconds: z.number().int().positive().default(30),
  })
  .strict();

const identitySchema = z
  .object({
    trustBundles: z.array(bundleSchema).default([]),
    peer: section(
      z
        .object({
          /** Order in which peer credentials are tried. */
          sources: z.array(z.enum(['certificate', 'principal', 'xfcc'])).default(['certificate']),
          /** `principal` is only read when Envoy itself verified the peer with SPIFFE validation. */
          trustEnvoyPrincipal: z.boolean().default(false),
          xfcc: section(
            z
              .object({
                /**
                 * Not needed: listing `xfcc` in `sources` is the one switch. Kept so older configs load; when set it
                 * must agree with `sources` (a config that says both things is refused, not guessed at).
                 */
                enabled: z.boolean().optional(),
                /** `last` for APPEND_FORWARD (Istio's default), `only` for SANITIZE_SET. */
                trust: z.enum(['last', 'only']).default('last'),
              })
              .strict(),
          ),
        })
        .strict()
        // Contradictions are refused here, with the path of the offending key, so the error names its line.
        .superRefine((peer, ctx) => {
          if (new Set(peer.sources).size !== peer.sources.length) {
            ctx.addIssue({ code: 'custom', path: ['sources'], message: 'lists a source twice' });
          }
          if (peer.sources.includes('principal') && !peer.trustEnvoyPrincipal) {
            ctx.addIssue({
              code: 'custom',
              path: ['sources'],
              message:
                'has "principal" but trustEnvoyPrincipal is false: set it only when Envoy verifies peers with SPIFFE validation',
            });
          }
          const enabled = peer.xfcc.enabled;
          if (enabled !== undefined && enabled !== peer.sources.includes('xfcc')) {
            ctx.addIssue({
              code: 'custom',
              path: ['xfcc', 'enabled'],
              message: enabled
                ? 'is true but "xfcc" is not in identity.peer.sources (the sources list is the switch: add it there)'
                : 'is false but identity.peer.sources lists "xfcc" (the sources list is the switch)',
            });
          }
        }),
    ),
    jwt: section(
      z
        .object({
          issuers: z.array(issuerSchema).default([]),
          /** JWT-SVIDs (bearer tokens whose `sub` is a SPIFFE ID), verified with the `sub` trust domain's jwt-svid keys. */
          jwtSvid: z
            .object({
              audiences: z.array(z.string().min(1)).min(1, 'list at least one expected audience'),
              fromHeaders: tokenHeaders,
              /** The JWT-SVID standard allows at most one minute of clock skew. */
              leewaySeconds: z.number().int().min(0).max(60).default(30),
            })
            .strict()
            .optional(),
          /** Claims Envoy's jwt_authn filter already verified, from metadata_context. */
          envoyJwtAuthn: section(
            z
              .object({
                enabled: z.boolean().default(false),
                namespace: z.string().default('envoy.filters.http.jwt_authn'),
              })
              .strict(),
          ),
        })
        .strict(),
    ),
  })
  .strict();

const telemetrySchema = z
  .object({
    log: section(
      z
        .object({
          level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
          decisions: z.enum(['all', 'deny', 'sample', 'none']).default('deny'),
          allowSampleRate: z.number().min(0).max(1).default(0.01),
          destination: z.string().default('stdout').describe('stdout, stderr or a file path'),
          otlp: section(
            z
              .object({
                enabled: z.boolean().default(false),
                endpoint: z.string().url().optional().describe('OTLP/HTTP logs endpoint; OTEL_* env vars also apply'),
              })
              .strict(),
          ).describe('also export decision log records as OTLP log records'),
        })
        .strict(),
    ),
    denyRateLimit: section(
      z
        .object({
          perSecond: z
            .number()
            .min(0)
            .default(100)
            .describe('spans + log lines per (policy, reason) per second; 0 = off'),
          burst: z.number().int().min(1).default(200),
        })
        .strict(),
    ),
    tracing: section(
      z
        .object({
          enabled: z.boolean().default(false),
          endpoint: z.string().url().optional().describe('OTLP/HTTP traces endpoint; OTEL_* env vars also apply'),
          serviceName: z.string().default('mesh-authz'),
          allowSampleRate: z.number().min(0).max(1).default(0.01),
        })
        .strict(),
    ),
    metrics: section(z.object({ enabled: z.boolean().default(true) }).strict()),
  })
  .strict();

const cacheSchema = z
  .object({
    enabled: z.boolean().default(true),
    maxEntries: z.number().int().positive().default(100_000),
    maxBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024),
    ttlSeconds: z.number().int().positive().default(300),
  })
  .strict();

const discoverySchema = z
  .object({
    enabled: z.boolean().default(false),
    maxFlows: z.number().int().positive().default(50_000),
    flushIntervalSeconds: z.number().int().positive().default(60),
    file: z.string().min(1).default('flows.jsonl'),
    otlpLogs: z.boolean().default(false),
  })
  .strict();

const kubernetesPoliciesSchema = z
  .object({
    /** Read AuthorizationPolicies from the API server instead of `policy.paths`. */
    enabled: z.boolean().default(false),
    /** Server-side label selector, e.g. `authz.mesh-authz.io/evaluate=true`. */
    labelSelector: z.string().min(1).optional(),
    /** The CUSTOM provider name mesh-authz is deployed as: CUSTOM policies naming another provider are left out. */
    provider: z.string().min(1).optional(),
    /** Served versions to read, in preference order (both are the same objects on a cluster serving both). */
    versions: z
      .array(z.enum(['v1', 'v1beta1']))
      .min(1)
      .default(['v1', 'v1beta1']),
    /** Record a Warning Event on a refused AuthorizationPolicy. */
    events: z.boolean().default(true),
  })
  .strict();

const kubernetesSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** A kubeconfig file; without it: $KUBECONFIG, the pod's service account, then ~/.kube/config. */
    kubeconfig: z.string().min(1).optional(),
    /** Namespaces to watch; empty = all. */
    namespaces: z.array(z.string().min(1)).default([]),
    /** Informer resync: consumers re-derive their state at least this often. 0 = never. */
    resyncSeconds: z.number().int().nonnegative().default(300),
    /** The workload registry from Pods and Services (destination labels by pod IP). */
    workloads: z.boolean().default(true),
    policies: section(kubernetesPoliciesSchema),
    /** Local directory (an emptyDir) for last-good snapshots used when the API server is unreachable at start. */
    snapshotDir: z.string().min(1).optional(),
    /** How long start-up waits for the API server before serving snapshots (a failed first attempt is sooner). */
    startupTimeoutMs: z.number().int().positive().default(10_000),
  })
  .strict();

export const configSchema = z
  .object({
    server: section(serverSchema),
    admin: section(adminSchema),
    response: section(responseSchema),
    policy: section(policySchema),
    identity: section(identitySchema),
    telemetry: section(telemetrySchema),
    cache: section(cacheSchema),
    discovery: section(discoverySchema),
    kubernetes: section(kubernetesSchema),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.kubernetes.policies.enabled && !c.kubernetes.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['kubernetes', 'policies', 'enabled'],
        message: 'kubernetes.policies needs kubernetes.enabled: true',
      });
    }
    if (c.kubernetes.enabled && c.kubernetes.policies.enabled && c.policy.paths.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['kubernetes', 'policies', 'enabled'],
        message: 'policies come from policy.paths or from the API server (kubernetes.policies), not both',
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

/** Every default of the config file, as an empty file parses: code that needs a config default reads it here. */
export const CONFIG_DEFAULTS: Config = Object.freeze(configSchema.parse({}));
export type TlsConfig = z.infer<typeof tlsSchema>;
export type IdentityConfig = z.infer<typeof identitySchema>;
export type IssuerConfig = z.infer<typeof issuerSchema>;
export type TrustBundleConfig = z.infer<typeof bundleSchema>;
export type PolicyConfig = z.infer<typeof policySchema>;
export type TelemetryConfig = z.infer<typeof telemetrySchema>;
export type CacheConfig = z.infer<typeof cacheSchema>;
export type DiscoveryConfig = z.infer<typeof discoverySchema>;
export type KubernetesConfig = z.infer<typeof kubernetesSchema>;
