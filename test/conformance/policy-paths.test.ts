import { describe } from 'vitest';
import { type ConformanceCase, DOC_BEST, DOC_NORMALIZATION, runCases } from './policy-cases.js';
import { policy, req } from './policy-fixtures.js';

/**
 * Path normalization and the known bypasses. A DENY on /admin must catch every spelling the upstream would
 * resolve to /admin under the configured option; where an option leaves a spelling alone, the request is
 * matched exactly as Envoy would (and `lint` warns about the pattern).
 */

const denyAdmin = policy('DENY', '  rules:\n  - to:\n    - operation:\n        paths: ["/admin", "/admin/*"]');
const allowPublic = policy('ALLOW', '  rules:\n  - to:\n    - operation:\n        paths: ["/public/*"]');

const cases: ConformanceCase[] = [
  {
    name: 'BASE: /public/../admin is /admin and is denied',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '/public/../admin' }),
    allowed: false,
    code: 'deny_matched',
  },
  {
    name: 'BASE: /public/%2e%2e/admin is decoded then resolved to /admin',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '/public/%2e%2e/admin' }),
    allowed: false,
  },
  {
    name: 'BASE: ALLOW /public/* does not allow /public/../admin',
    source: DOC_BEST,
    policies: allowPublic,
    request: req({ path: '/public/../admin' }),
    allowed: false,
  },
  {
    name: 'BASE: backslash is a slash (/public\\..\\admin)',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '/public\\..\\admin' }),
    allowed: false,
  },
  {
    name: 'BASE: %5C is not decoded, so /admin%5C is not /admin/',
    source: DOC_NORMALIZATION,
    policies: allowPublic,
    request: req({ path: '/public%5C..%5Cadmin' }),
    allowed: false,
  },
  {
    name: 'BASE: decoded unreserved characters (%61dmin is admin)',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '/%61dmin' }),
    allowed: false,
  },
  {
    name: 'a fragment is stripped (/admin#frag)',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '/admin#frag' }),
    allowed: false,
  },
  {
    name: 'a query is stripped (/admin?x)',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '/admin?x=1' }),
    allowed: false,
  },
  {
    name: '%00 is always rejected',
    source: DOC_NORMALIZATION,
    policies: allowPublic,
    request: req({ path: '/public/a%00b' }),
    allowed: false,
    code: 'invalid_request',
  },
  {
    name: 'BASE leaves //admin alone (Envoy matches it as //admin)',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '//admin' }),
    allowed: true,
  },
  {
    name: 'MERGE_SLASHES: //admin is /admin',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '//admin' }),
    options: { pathNormalization: 'MERGE_SLASHES' },
    allowed: false,
  },
  {
    name: 'MERGE_SLASHES leaves /admin%2F.. (encoded slash) alone',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '/admin%2Fx' }),
    options: { pathNormalization: 'MERGE_SLASHES' },
    allowed: true,
  },
  {
    name: 'DECODE_AND_MERGE_SLASHES: /admin%2Fx is /admin/x',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '/admin%2Fx' }),
    options: { pathNormalization: 'DECODE_AND_MERGE_SLASHES' },
    allowed: false,
  },
  {
    name: 'DECODE_AND_MERGE_SLASHES: /public%2F..%2Fadmin is /admin',
    source: DOC_NORMALIZATION,
    policies: allowPublic,
    request: req({ path: '/public%2F..%2Fadmin' }),
    options: { pathNormalization: 'DECODE_AND_MERGE_SLASHES' },
    allowed: false,
  },
  {
    name: 'DECODE_AND_MERGE_SLASHES: %5C is decoded to a slash',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '/x%5C..%5Cadmin' }),
    options: { pathNormalization: 'DECODE_AND_MERGE_SLASHES' },
    allowed: false,
  },
  {
    name: 'NONE: /public/../admin is matched raw (ALLOW /public/* allows it: why lint warns)',
    source: DOC_NORMALIZATION,
    policies: allowPublic,
    request: req({ path: '/public/../admin' }),
    options: { pathNormalization: 'NONE' },
    allowed: true,
  },
  {
    name: '.. never climbs above the root',
    source: DOC_NORMALIZATION,
    policies: denyAdmin,
    request: req({ path: '/../../admin' }),
    allowed: false,
  },
];

describe('conformance: path normalization and bypasses', () => {
  runCases(cases);
});
