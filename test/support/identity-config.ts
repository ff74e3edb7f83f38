/**
 * Builds a fully-defaulted identity config (as the config loader would) from a partial one, and a fake `fetch`
 * that serves JSON documents by URL and counts calls. For identity tests and anyone wiring a verifier in tests.
 */
import { configSchema, type IdentityConfig } from '../../src/config/schema.js';

export function identityConfig(partial: Record<string, unknown>): IdentityConfig {
  return configSchema.parse({ identity: partial }).identity;
}

export interface FakeFetch {
  readonly fetch: typeof fetch;
  /** Calls per URL. */
  readonly calls: Map<string, number>;
  /** Sets (or replaces) the JSON served at `url`; `status` other than 200 simulates an outage. */
  serve(url: string, body: unknown, status?: number): void;
}

export function fakeFetch(): FakeFetch {
  const docs = new Map<string, { body: unknown; status: number }>();
  const calls = new Map<string, number>();
  const impl = async (input: string | URL | Request): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.set(url, (calls.get(url) ?? 0) + 1);
    const doc = docs.get(url);
    if (!doc) return new Response('not found', { status: 404 });
    return new Response(JSON.stringify(doc.body), {
      status: doc.status,
      headers: { 'content-type': 'application/json' },
    });
  };
  return {
    fetch: impl as typeof fetch,
    calls,
    serve(url, body, status = 200) {
      docs.set(url, { body, status });
    },
  };
}
