import type { IdentitySource } from '../../src/authz/seams.js';

/** Identity stand-in whose verification takes as long as the request's `x-test-delay-ms` header says. */
export const slowIdentity: IdentitySource = {
  async verify(input) {
    const ms = Number(input.headers['x-test-delay-ms'] ?? 0);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    return { ok: true, peer: null, user: null };
  },
  close() {},
};
