import { z } from 'zod';
import { ISTIO_DEFAULTS } from '../policy/options.js';

/**
 * The config file's schema and defaults. Every section is optional: an empty file is a valid config that serves
 * plaintext on loopback with no policies loaded (and so denies everything until policies are given).
 * Paths in the file are resolved relative to the file's own folder.
 */

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:9191');

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
    /** Internal deadline for one Check when Envoy sent no grpc-timeout. */
    checkTimeoutMs: z.number().int().positive().default(200),
    /** Graceful shutdown: how long in-flight checks may take before the server closes anyway. */
    drainTimeoutMs: z.number().int().nonnegative().default(5000),
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .default(1 << 20),
    maxPathBytes: z.number().int().positive().default(8192),
    maxHeaderBytes: z.number().int().positive().default(65536),
    maxHeaders: z.number().int().positive().default(200),
    /** Istio numTrustedProxies: how many X-Forwarded-For hops to trust for `remote.ip`. */
    trustedProxies: z.number().int().nonnegative().default(0),
  })
  .strict();

const adminSchema = z
  .object({
    listen: hostPort.default('127.0.0.1:9901'),
    enabled: z.boolean().default(true),
  })
  .strict();

const workloadSchema = z
  .object({
    namespace: z.string().min(1),
    labels: z.record(z.string(), z.string()).default({}),
    serviceAccount: z.string().optional(),
  })
  .strict();

const policySchema = z
  .object({
    paths: z.array(z.string().min(1)).default([]),
    rootNamespace: z.string().min(1).default(ISTIO_DEFAULTS.rootNamespace),
    mode: z.enum(['enforce', 'dry-run']).default('enforce'),
    pathNormalization: z.enum(['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES']).default('BASE'),
    trustDomain: z.string().min(1).default(ISTIO_DEFAULTS.trustDomain),
    trustDomainAliases: z.array(z.string().min(1)).default([]),
    watch: z.boolean().default(true),
    /** Known workloads: used to warn about workloads no ALLOW policy covers. */
    workloads: z.array(workloadSchema).default([]),
  })
  .strict();

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
    fromHeaders: z
      .array(z.object({ name: z.string().min(1), prefix: z.string().default('') }).strict())
      .default([{ name: 'authorization', prefix: 'Bearer ' }]),
    groupsClaims: z.array(z.string().min(1)).default(['groups']),
    jwksCooldownSeconds: z.number().int().positive().default(30),
  })
  .strict();

const identitySchema = z
  .object({
    trustBundles: z.array(bundleSchema).default([]),
    peer: z
      .object({
        /** Order in which peer credentials are tried. */
        sources: z.array(z.enum(['certificate', 'principal', 'xfcc'])).default(['certificate']),
        /** `principal` is only read when Envoy itself verified the peer with SPIFFE validation. */
        trustEnvoyPrincipal: z.boolean().default(false),
        xfcc: z
          .object({
            enabled: z.boolean().default(false),
            /** `last` for APPEND_FORWARD (Istio's default), `only` for SANITIZE_SET. */
            trust: z.enum(['last', 'only']).default('last'),
          })
          .strict()
          .default({ enabled: false, trust: 'last' }),
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
        if (peer.sources.includes('xfcc') !== peer.xfcc.enabled) {
          ctx.addIssue({
            code: 'custom',
            path: ['xfcc', 'enabled'],
            message: 'xfcc.enabled and "xfcc" in identity.peer.sources must be set together',
          });
        }
      })
      .default({ sources: ['certificate'], trustEnvoyPrincipal: false, xfcc: { enabled: false, trust: 'last' } }),
    jwt: z
      .object({
        issuers: z.array(issuerSchema).default([]),
        /** JWT-SVIDs (bearer tokens whose `sub` is a SPIFFE ID), verified with the `sub` trust domain's jwt-svid keys. */
        jwtSvid: z
          .object({
            audiences: z.array(z.string().min(1)).min(1, 'list at least one expected audience'),
            fromHeaders: z
              .array(z.object({ name: z.string().min(1), prefix: z.string().default('') }).strict())
              .default([{ name: 'authorization', prefix: 'Bearer ' }]),
            /** The JWT-SVID standard allows at most one minute of clock skew. */
            leewaySeconds: z.number().int().min(0).max(60).default(30),
          })
          .strict()
          .optional(),
        /** Claims Envoy's jwt_authn filter already verified, from metadata_context. */
        envoyJwtAuthn: z
          .object({
            enabled: z.boolean().default(false),
            namespace: z.string().default('envoy.filters.http.jwt_authn'),
          })
          .strict()
          .default({ enabled: false, namespace: 'envoy.filters.http.jwt_authn' }),
      })
      .strict()
      .default({ issuers: [], envoyJwtAuthn: { enabled: false, namespace: 'envoy.filters.http.jwt_authn' } }),
  })
  .strict();

const telemetrySchema = z
  .object({
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        decisions: z.enum(['all', 'deny', 'sample', 'none']).default('deny'),
        allowSampleRate: z.number().min(0).max(1).default(0.01),
        destination: z.string().default('stdout').describe('stdout, stderr or a file path'),
        otlp: z
          .object({
            enabled: z.boolean().default(false),
            endpoint: z.string().url().optional().describe('OTLP/HTTP logs endpoint; OTEL_* env vars also apply'),
          })
          .strict()
          .default({ enabled: false })
          .describe('also export decision log records as OTLP log records'),
      })
      .strict()
      .default({
        level: 'info',
        decisions: 'deny',
        allowSampleRate: 0.01,
        destination: 'stdout',
        otlp: { enabled: false },
      }),
    denyRateLimit: z
      .object({
        perSecond: z
          .number()
          .min(0)
          .default(100)
          .describe('spans + log lines per (policy, reason) per second; 0 = off'),
        burst: z.number().int().min(1).default(200),
      })
      .strict()
      .default({ perSecond: 100, burst: 200 }),
    tracing: z
      .object({
        enabled: z.boolean().default(false),
        endpoint: z.string().url().optional().describe('OTLP/HTTP traces endpoint; OTEL_* env vars also apply'),
        serviceName: z.string().default('mesh-authz'),
        allowSampleRate: z.number().min(0).max(1).default(0.01),
      })
      .strict()
      .default({ enabled: false, serviceName: 'mesh-authz', allowSampleRate: 0.01 }),
    metrics: z
      .object({ enabled: z.boolean().default(true) })
      .strict()
      .default({ enabled: true }),
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

export const configSchema = z
  .object({
    server: serverSchema.default(serverSchema.parse({})),
    admin: adminSchema.default(adminSchema.parse({})),
    policy: policySchema.default(policySchema.parse({})),
    identity: identitySchema.default(identitySchema.parse({})),
    telemetry: telemetrySchema.default(telemetrySchema.parse({})),
    cache: cacheSchema.default(cacheSchema.parse({})),
    discovery: discoverySchema.default(discoverySchema.parse({})),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;
export type IdentityConfig = z.infer<typeof identitySchema>;
export type IssuerConfig = z.infer<typeof issuerSchema>;
export type TrustBundleConfig = z.infer<typeof bundleSchema>;
export type PolicyConfig = z.infer<typeof policySchema>;
export type TelemetryConfig = z.infer<typeof telemetrySchema>;
export type CacheConfig = z.infer<typeof cacheSchema>;
export type DiscoveryConfig = z.infer<typeof discoverySchema>;
