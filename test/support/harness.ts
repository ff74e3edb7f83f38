import * as grpc from '@grpc/grpc-js';
import { ANONYMOUS_IDENTITY, staticPolicySource } from '../../src/authz/seams.js';
import type { WireCheckRequest, WireCheckResponse } from '../../src/authz/wire-types.js';
import { parseConfigText } from '../../src/config/load.js';
import { healthServiceDefinition } from '../../src/server/health.js';
import { authorizationServiceDefinition } from '../../src/server/server.js';
import {
  type AuthzService,
  type ListeningAddresses,
  AuthzService as Service,
  type ServiceParts,
} from '../../src/server/service.js';
import { prefixPolicySet } from './prefix-policy.js';

/** The two gRPC transports (`server.transport`); suites that must hold for both run once per transport. */
export const TRANSPORTS = ['grpc-js', 'http2'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** Starts an in-process service on ephemeral loopback ports. */
export async function startService(
  overrides: { server?: Record<string, unknown>; [section: string]: unknown } = {},
  parts: Partial<ServiceParts> = {},
  dir = process.cwd(),
): Promise<{ service: AuthzService; addresses: ListeningAddresses }> {
  const { server, ...rest } = overrides;
  const raw = { server: { listen: '127.0.0.1:0', ...server }, admin: { listen: '127.0.0.1:0' }, ...rest };
  // JSON is YAML: the config goes through the same parser and schema as a file.
  const config = parseConfigText(JSON.stringify(raw), `${dir}/test-config.yaml`);
  const service = new Service(
    { config, file: `${dir}/test-config.yaml`, dir },
    {
      policies: staticPolicySource(prefixPolicySet(['/allowed', '/api/'])),
      identity: ANONYMOUS_IDENTITY,
      ...parts,
    },
  );
  const addresses = await service.start();
  return { service, addresses };
}

const AuthorizationClient = grpc.makeGenericClientConstructor(authorizationServiceDefinition, 'Authorization');
const HealthClient = grpc.makeGenericClientConstructor(healthServiceDefinition, 'Health');

export interface Clients {
  check(req: WireCheckRequest, deadlineMs?: number): Promise<WireCheckResponse>;
  health(service?: string): Promise<number>;
  close(): void;
}

export function connect(target: string, credentials = grpc.credentials.createInsecure()): Clients {
  const authz = new AuthorizationClient(target, credentials) as unknown as grpc.Client & {
    Check(
      req: WireCheckRequest,
      opts: grpc.CallOptions,
      cb: (e: grpc.ServiceError | null, r?: WireCheckResponse) => void,
    ): void;
  };
  const health = new HealthClient(target, credentials) as unknown as grpc.Client & {
    Check(req: { service: string }, cb: (e: grpc.ServiceError | null, r?: { status: number }) => void): void;
  };
  return {
    check: (req, deadlineMs = 5000) =>
      new Promise((resolve, reject) =>
        authz.Check(req, { deadline: Date.now() + deadlineMs }, (e, r) => (e ? reject(e) : resolve(r!))),
      ),
    health: (service = '') =>
      new Promise((resolve, reject) => health.Check({ service }, (e, r) => (e ? reject(e) : resolve(r!.status)))),
    close() {
      authz.close();
      health.close();
    },
  };
}

/** A CheckRequest as Envoy fills it for an HTTP request. */
export function httpCheck(
  path: string,
  extra: { method?: string; headers?: Record<string, string> } = {},
): WireCheckRequest {
  return {
    attributes: {
      source: {
        address: { socketAddress: { address: '10.0.0.1', portValue: 40000 } },
        principal: 'spiffe://cluster.local/ns/shop/sa/frontend',
      },
      destination: { address: { socketAddress: { address: '10.0.0.2', portValue: 8080 } } },
      request: {
        http: {
          id: '1',
          method: extra.method ?? 'GET',
          path,
          host: 'orders.shop',
          scheme: 'http',
          protocol: 'HTTP/1.1',
          headers: { ':method': extra.method ?? 'GET', ':path': path, ':authority': 'orders.shop', ...extra.headers },
        },
      },
      contextExtensions: { namespace: 'shop', app: 'orders' },
    },
  };
}
