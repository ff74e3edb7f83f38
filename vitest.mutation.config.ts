import { defineConfig } from 'vitest/config';

/**
 * The suites `npm run test:mutation` (StrykerJS) runs against each mutant: the unit specs and the policy, cache and
 * identity suites that exercise the mutated code without servers or child processes. End-to-end suites are left
 * out: they add minutes per mutant and kill nothing the suites below do not.
 */
export default defineConfig({
  test: {
    include: [
      'src/policy/**/*.spec.ts',
      'src/identity/**/*.spec.ts',
      'src/authz/cache*.spec.ts',
      'src/authz/input.spec.ts',
      'src/authz/resolve.spec.ts',
      'src/server/check-decoder.spec.ts',
      'test/conformance/policy-*.test.ts',
      'test/property/*.test.ts',
      'test/cache/keys.test.ts',
      'test/cache/key-plans.test.ts',
      'test/cache/pipeline.test.ts',
      'test/identity/{jwks,verifier,xfcc,key-change-races}.test.ts',
      'test/security/*.test.ts',
    ],
    testTimeout: 30_000,
    // Fewer fast-check runs per property: each mutant runs the properties that reach it, and a decision-changing
    // mutant is found in far fewer than the 200 runs `npm test` uses.
    env: { PROPERTY_RUN_SCALE: '0.25' },
  },
});
