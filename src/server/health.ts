import * as grpc from '@grpc/grpc-js';
import { HealthCheckRequestType, HealthCheckResponseType } from './codec.js';

/**
 * grpc.health.v1.Health. The Authorization service is SERVING only while a policy set is loaded and the process
 * is not draining: Envoy (or Kubernetes) must stop sending checks to an instance that would deny them all.
 */

/** grpc.health.v1.HealthCheckResponse.ServingStatus. */
export const ServingStatus = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;
export type ServingStatusName = keyof typeof ServingStatus;

/** The service names this server answers health for ('' is the whole server). */
export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';
export const HEALTH_SERVICES: readonly string[] = ['', AUTHORIZATION_SERVICE];

type Listener = (status: ServingStatusName) => void;

/** The current serving status and the Watch streams that follow it. */
export class HealthState {
  private status: ServingStatusName = 'NOT_SERVING';
  private readonly listeners = new Set<Listener>();

  get current(): ServingStatusName {
    return this.status;
  }

  set(status: ServingStatusName): void {
    if (status === this.status) return;
    this.status = status;
    for (const listener of this.listeners) listener(status);
  }

  /** Follows changes; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get watchers(): number {
    return this.listeners.size;
  }
}

export interface HealthRequest {
  readonly service: string;
  readonly malformed?: true;
}
interface HealthResponse {
  readonly status: number;
}

export function decodeHealthRequest(bytes: Buffer): HealthRequest {
  try {
    const msg = HealthCheckRequestType.decode(bytes) as unknown as { service?: string };
    return { service: msg.service ?? '' };
  } catch {
    return { service: '', malformed: true };
  }
}

export function encodeHealthResponse(res: HealthResponse): Buffer {
  const bytes = HealthCheckResponseType.encode(
    res as unknown as Parameters<typeof HealthCheckResponseType.encode>[0],
  ).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function decodeHealthResponse(bytes: Buffer): HealthResponse {
  const msg = HealthCheckResponseType.decode(bytes) as unknown as { status?: number };
  return { status: msg.status ?? 0 };
}

function encodeHealthRequest(req: HealthRequest): Buffer {
  const bytes = HealthCheckRequestType.encode({ service: req.service } as unknown as Parameters<
    typeof HealthCheckRequestType.encode
  >[0]).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The Health service definition, with protobufjs codecs (no proto-loader at runtime). */
export const healthServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeHealthRequest,
    requestDeserialize: decodeHealthRequest,
    responseSerialize: encodeHealthResponse,
    responseDeserialize: decodeHealthResponse,
  },
  Watch: {
    path: '/grpc.health.v1.Health/Watch',
    requestStream: false,
    responseStream: true,
    requestSerialize: encodeHealthRequest,
    requestDeserialize: decodeHealthRequest,
    responseSerialize: encodeHealthResponse,
    responseDeserialize: decodeHealthResponse,
  },
} satisfies grpc.ServiceDefinition;

/** Health handlers over a {@link HealthState}. `close()` ends every open Watch (so a drain is not held open). */
export function createHealthHandlers(state: HealthState): {
  handlers: grpc.UntypedServiceImplementation;
  close(): void;
} {
  const open = new Set<grpc.ServerWritableStream<HealthRequest, HealthResponse>>();
  const known = (service: string) => HEALTH_SERVICES.includes(service);

  const check: grpc.handleUnaryCall<HealthRequest, HealthResponse> = (call, callback) => {
    if (call.request.malformed) {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: 'malformed HealthCheckRequest' });
      return;
    }
    if (!known(call.request.service)) {
      callback({ code: grpc.status.NOT_FOUND, details: `unknown service '${call.request.service}'` });
      return;
    }
    callback(null, { status: ServingStatus[state.current] });
  };

  const watch: grpc.handleServerStreamingCall<HealthRequest, HealthResponse> = (call) => {
    if (call.request.malformed) {
      call.destroy(Object.assign(new Error('malformed HealthCheckRequest'), { code: grpc.status.INVALID_ARGUMENT }));
      return;
    }
    // Per the health protocol, an unknown service is reported as SERVICE_UNKNOWN on the stream, not an error.
    const isKnown = known(call.request.service);
    call.write({ status: isKnown ? ServingStatus[state.current] : ServingStatus.SERVICE_UNKNOWN });
    open.add(call);
    const unsubscribe = isKnown ? state.subscribe((status) => call.write({ status: ServingStatus[status] })) : () => {};
    const done = () => {
      unsubscribe();
      open.delete(call);
    };
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
  };

  return {
    handlers: { Check: check, Watch: watch },
    close() {
      for (const call of open) call.end();
      open.clear();
    },
  };
}
