import { describe } from 'vitest';
import { type ConformanceCase, runCases, SRC_ENVOY_TEMPLATE, SRC_SECURITY, SRC_TEMPLATE } from './policy-cases.js';
import { policy, req } from './policy-fixtures.js';

/**
 * Path templates as Envoy's uri_template matcher runs them: Istio rewrites `{*}` → `*`, `{**}` → `**`
 * (matcher/template.go); Envoy builds `/` + segments joined by `/`, where `*` is `[pchar]+` and `**` is
 * `[pchar/]*` (pchar without `*` and `=`), full match on the path without query. istiod accepts literal segments
 * after `{**}` (security.go, CheckValidPathTemplate). ALLOW policies: match ⇔ allowed.
 */

const paths = (values: string) => policy('ALLOW', `  rules:\n  - to:\n    - operation:\n        paths: ${values}`);
const SRC = `${SRC_ENVOY_TEMPLATE} (toRegexPattern); ${SRC_TEMPLATE}`;
const SRC_AFTER = `${SRC_SECURITY} (CheckValidPathTemplate); ${SRC_ENVOY_TEMPLATE}`;

const cases: ConformanceCase[] = [
  {
    name: '/store/{**}/cart: literal segments after {**} are allowed and match',
    source: SRC_AFTER,
    policies: paths('["/store/{**}/cart"]'),
    request: req({ path: '/store/eu/42/cart' }),
    allowed: true,
  },
  {
    name: '/store/{**}/cart matches /store//cart: {**} may be empty (zero characters between the slashes)',
    source: SRC,
    policies: paths('["/store/{**}/cart"]'),
    request: req({ path: '/store//cart' }),
    allowed: true,
  },
  {
    name: '/store/{**}/cart does not match /store/cart (both slashes are literal)',
    source: SRC,
    policies: paths('["/store/{**}/cart"]'),
    request: req({ path: '/store/cart' }),
    allowed: false,
  },
  {
    name: '/store/{**}/cart does not match a longer path (full match)',
    source: SRC,
    policies: paths('["/store/{**}/cart"]'),
    request: req({ path: '/store/a/cart/x' }),
    allowed: false,
  },
  {
    name: '{*} does not match a segment containing = (not an Envoy template literal character)',
    source: SRC,
    policies: paths('["/api/{*}"]'),
    request: req({ path: '/api/a=b' }),
    allowed: false,
  },
  {
    name: '{**} does not match across a = either',
    source: SRC,
    policies: paths('["/api/{**}"]'),
    request: req({ path: '/api/x/a=b' }),
    allowed: false,
  },
  {
    name: '{*} matches pchar characters such as : @ ! and %',
    source: SRC,
    policies: paths('["/api/{*}/x"]'),
    request: req({ path: "/api/a:b@c!d$e&f'(g)+,;%41/x" }),
    allowed: true,
  },
  {
    name: '/a/{**} matches /a/ (an empty rest)',
    source: SRC,
    policies: paths('["/a/{**}"]'),
    request: req({ path: '/a/' }),
    allowed: true,
  },
  {
    name: 'a trailing / in a template is an empty last segment: /a/{*}/ needs the slash',
    source: SRC,
    policies: paths('["/a/{*}/"]'),
    request: req({ path: '/a/b' }),
    allowed: false,
  },
  {
    name: 'a trailing / in a template matches the path with the slash',
    source: SRC,
    policies: paths('["/a/{*}/"]'),
    request: req({ path: '/a/b/' }),
    allowed: true,
  },
  {
    name: 'templates match the path without its query',
    source: `${SRC_ENVOY_TEMPLATE}; envoyproxy/envoy source/extensions/path/match/uri_template/uri_template_match.cc`,
    policies: paths('["/store/{**}/cart"]'),
    request: req({ path: '/store/x/cart?y=1' }),
    allowed: true,
  },
];

describe('conformance: path templates (Envoy uri_template)', () => {
  runCases(cases);
});
