import { FakeKubeApi } from '../support/fake-kube-api.js';

/** Helpers for the Kubernetes source tests, all against the stand-in API server (test/support/fake-kube-api.ts). */

export interface PodSpec {
  readonly ip?: string;
  readonly phase?: string;
  readonly labels?: Record<string, string>;
  readonly sa?: string;
  readonly hostNetwork?: boolean;
}

export function pod(name: string, namespace: string, spec: PodSpec) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: spec.labels ?? {} },
    spec: {
      ...(spec.sa ? { serviceAccountName: spec.sa } : {}),
      ...(spec.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: 'app', image: 'app' }],
    },
    status: {
      phase: spec.phase ?? 'Running',
      ...(spec.ip ? { podIP: spec.ip, podIPs: [{ ip: spec.ip }] } : {}),
    },
  };
}

export function service(name: string, namespace: string, selector: Record<string, string> | undefined) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { ...(selector ? { selector } : {}), ports: [{ port: 80 }] },
  };
}

export async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

export async function startFake(cleanup: (() => Promise<void>)[]): Promise<FakeKubeApi> {
  const fake = new FakeKubeApi();
  await fake.start();
  cleanup.push(() => fake.stop());
  return fake;
}
