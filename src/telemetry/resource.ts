import { randomUUID } from 'node:crypto';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';

/**
 * The one OpenTelemetry Resource every signal carries: spans, OTLP decision logs, discovery's OTLP flow logs, and
 * (as the `target_info` gauge) the Prometheus metrics. A collector or a trace UI can then join a span, a log record
 * and a metric series of the same process.
 *
 * Attributes (OpenTelemetry resource semantic conventions):
 * - `service.name`: `telemetry.tracing.serviceName` (default `mesh-authz`); `OTEL_SERVICE_NAME` wins;
 * - `service.version`: the package version;
 * - `service.instance.id`: the pod UID when the downward API gives it, else a random UUID per process;
 * - `k8s.pod.name`, `k8s.pod.uid`, `k8s.namespace.name`, `k8s.node.name`: from the downward-API variables
 *   {@link K8S_ENV} (set them in the Deployment, see istio/monitoring/README.md), absent when unset;
 * - anything in `OTEL_RESOURCE_ATTRIBUTES` (it wins over all of the above, as the OpenTelemetry spec says).
 */

/** Downward-API environment variable → resource attribute. */
export const K8S_ENV: Readonly<Record<string, string>> = {
  K8S_POD_NAME: 'k8s.pod.name',
  K8S_POD_UID: 'k8s.pod.uid',
  K8S_NAMESPACE_NAME: 'k8s.namespace.name',
  K8S_NODE_NAME: 'k8s.node.name',
};

export type Env = Readonly<Record<string, string | undefined>>;

export interface ResourceInput {
  readonly serviceName: string;
  readonly version: string;
  readonly env: Env;
}

/** One process, one instance id (when the pod UID is not known). */
const PROCESS_INSTANCE_ID = randomUUID();

/** `OTEL_RESOURCE_ATTRIBUTES`: `key=value,key=value`, values percent-encoded (W3C Baggage-like). */
export function parseResourceAttributes(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // Not percent-encoded after all: keep it as written.
    }
    if (key !== '') out[key] = value;
  }
  return out;
}

/** The resource attributes as a plain record (also what `target_info` is labelled with). */
export function resourceAttributes(input: ResourceInput): Record<string, string> {
  const env = input.env;
  const attrs: Record<string, string> = {
    'service.name': input.serviceName,
    'service.version': input.version,
    'service.instance.id': nonEmpty(env.K8S_POD_UID) ?? PROCESS_INSTANCE_ID,
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.name': 'opentelemetry',
  };
  for (const [name, key] of Object.entries(K8S_ENV)) {
    const value = nonEmpty(env[name]);
    if (value !== undefined) attrs[key] = value;
  }
  Object.assign(attrs, parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES));
  const serviceName = nonEmpty(env.OTEL_SERVICE_NAME);
  if (serviceName !== undefined) attrs['service.name'] = serviceName;
  return attrs;
}

export function buildResource(input: ResourceInput): Resource {
  return buildResourceFrom(resourceAttributes(input));
}

export function buildResourceFrom(attributes: Readonly<Record<string, string>>): Resource {
  return resourceFromAttributes({ ...attributes });
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v === undefined || v === '' ? undefined : v;
}
