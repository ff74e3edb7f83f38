import { errors } from 'jose';
import { describe, expect, it } from 'vitest';
import { bearerChallenge, extractToken, mapJoseError, readGroups, tokenError } from './jwt-support.js';
import { IdentityError } from './types.js';

const T1 = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';
const T2 = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiIn0.c2ln';
const AUTH = { name: 'authorization', prefix: 'Bearer ' };
const RAW = { name: 'x-token', prefix: '' };

function refusal(fn: () => unknown): IdentityError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(IdentityError);
    return err as IdentityError;
  }
  throw new Error('expected a refusal');
}

describe('bearerChallenge / tokenError', () => {
  it('a challenge never carries a raw quote or backslash from the message', () => {
    expect(bearerChallenge('a "b" \\ c')).toBe(`Bearer error="invalid_token", error_description="a 'b' ' c"`);
  });

  it('tokenError carries the code, the message, the challenge and the cause', () => {
    const cause = new Error('inner');
    const err = tokenError('jwt_expired', 'the token has expired', cause);
    expect(err).toMatchObject({ code: 'jwt_expired', safeMessage: 'the token has expired', cause });
    expect(err.wwwAuthenticate).toBe('Bearer error="invalid_token", error_description="the token has expired"');
  });
});

describe('extractToken: which header value is a bearer credential', () => {
  it('no header, or an empty one, is no credential', () => {
    expect(extractToken({}, [AUTH, RAW])).toBeNull();
    expect(extractToken({ authorization: '', 'x-token': '' }, [AUTH, RAW])).toBeNull();
  });

  it('another scheme (or a value shorter than the prefix) is skipped, not refused', () => {
    expect(extractToken({ authorization: `Basic ${T1}` }, [AUTH])).toBeNull();
    expect(extractToken({ authorization: 'Bear' }, [AUTH])).toBeNull();
  });

  it('the scheme matches case-insensitively and the token is trimmed', () => {
    expect(extractToken({ authorization: `bEARER   ${T1}  ` }, [AUTH])).toEqual({ token: T1, header: 'authorization' });
  });

  it('with an empty prefix the whole value is the token', () => {
    expect(extractToken({ 'x-token': T1 }, [RAW])).toEqual({ token: T1, header: 'x-token' });
  });

  it('a token with an empty signature part has the compact shape (its alg is refused later)', () => {
    expect(extractToken({ 'x-token': 'eyJh.eyJz.' }, [RAW])?.token).toBe('eyJh.eyJz.');
  });

  it.each([
    ['Bearer '],
    ['Bearer a.b'],
    ['Bearer a..c'],
    ['Bearer .b.c'],
    ['Bearer a.b.c.d'],
    ['Bearer a+b.c.d'],
    [`Bearer ${T1} ${T1}`],
    [`Bearer ${T1},Bearer ${T1}`],
  ])('a presented value that is not a compact JWT is refused: %j', (value) => {
    const err = refusal(() => extractToken({ authorization: value }, [AUTH]));
    expect(err.code).toBe('jwt_malformed');
    expect(err.safeMessage).toBe('the token in the authorization header is not a compact JWT');
  });

  it('the same token in two headers is one credential, found in the first source', () => {
    expect(extractToken({ authorization: `Bearer ${T1}`, 'x-token': T1 }, [RAW, AUTH])).toEqual({
      token: T1,
      header: 'x-token',
    });
  });

  it('two different tokens are refused, whatever the order', () => {
    for (const sources of [
      [AUTH, RAW],
      [RAW, AUTH],
    ]) {
      const err = refusal(() => extractToken({ authorization: `Bearer ${T1}`, 'x-token': T2 }, sources));
      expect(err).toMatchObject({
        code: 'jwt_malformed',
        safeMessage: 'the request carries more than one bearer token',
      });
    }
  });
});

describe('readGroups: only strings, from the configured claims', () => {
  it('a string is one group; an empty string none', () => {
    expect(readGroups({ groups: 'ops' }, ['groups'])).toEqual(['ops']);
    expect(readGroups({ groups: '' }, ['groups'])).toEqual([]);
  });

  it('a list keeps its non-empty strings; other types of claim are ignored', () => {
    expect(readGroups({ groups: ['a', 1, '', null, ['b'], { c: 1 }, 'd'] }, ['groups'])).toEqual(['a', 'd']);
    for (const groups of [42, true, { admin: true }, null]) expect(readGroups({ groups }, ['groups'])).toEqual([]);
  });

  it('only the configured claims are read, in order, without duplicates', () => {
    const claims = { groups: ['a', 'b'], roles: ['b', 'c'], other: ['x'] };
    expect(readGroups(claims, ['roles', 'groups'])).toEqual(['b', 'c', 'a']);
    expect(readGroups(claims, [])).toEqual([]);
  });

  it('a dotted path reads nested objects; a literal dotted key wins over the path', () => {
    expect(readGroups({ realm_access: { roles: ['r'] } }, ['realm_access.roles'])).toEqual(['r']);
    expect(
      readGroups({ 'realm_access.roles': ['lit'], realm_access: { roles: ['r'] } }, ['realm_access.roles']),
    ).toEqual(['lit']);
  });

  it('a path never walks through arrays, null, strings or inherited properties', () => {
    expect(readGroups({ a: [{ b: 'x' }] }, ['a.0.b'])).toEqual([]);
    expect(readGroups({ a: null }, ['a.b'])).toEqual([]);
    expect(readGroups({ a: 'str' }, ['a.length'])).toEqual([]);
    // A string's characters are its own properties: walking into it would turn 'admins' into the group 'a'.
    expect(readGroups({ a: 'admins' }, ['a.0'])).toEqual([]);
    expect(readGroups({ a: Object.create({ b: 'inherited' }) }, ['a.b'])).toEqual([]);
    expect(readGroups({}, ['constructor.name'])).toEqual([]);
  });
});

describe('mapJoseError: every jose refusal keeps its reason, never the token', () => {
  const claim = (c: string) => new errors.JWTClaimValidationFailed('m', {}, c, 'check_failed');
  it.each<[string, unknown, string, string]>([
    ['expired', new errors.JWTExpired('m', {}, 'exp'), 'jwt_expired', 'the token has expired'],
    ['nbf', claim('nbf'), 'jwt_not_yet_valid', 'the token is not yet valid (nbf)'],
    ['iat', claim('iat'), 'jwt_not_yet_valid', 'the token was issued in the future (iat)'],
    ['aud', claim('aud'), 'jwt_audience', 'the token audience is not accepted here'],
    ['iss', claim('iss'), 'jwt_issuer', 'the token issuer is not accepted'],
    ['exp', claim('exp'), 'jwt_claims', 'the token has no valid exp claim'],
    ['sub', claim('sub'), 'jwt_claims', 'the token claim sub is invalid or missing'],
    [
      '64-character claim',
      claim('c'.repeat(64)),
      'jwt_claims',
      `the token claim ${'c'.repeat(64)} is invalid or missing`,
    ],
    ['65-character claim', claim('c'.repeat(65)), 'jwt_claims', 'the token claim (unnamed) is invalid or missing'],
    ['claim with a quote', claim('a"b'), 'jwt_claims', 'the token claim (unnamed) is invalid or missing'],
    ['empty claim', claim(''), 'jwt_claims', 'the token claim (unnamed) is invalid or missing'],
    [
      'signature',
      new errors.JWSSignatureVerificationFailed(),
      'jwt_bad_signature',
      'the token signature does not verify',
    ],
    ['alg not allowed', new errors.JOSEAlgNotAllowed('m'), 'jwt_alg_not_allowed', 'the token algorithm is not allowed'],
    [
      'alg not supported',
      new errors.JOSENotSupported('m'),
      'jwt_alg_not_allowed',
      'the token algorithm is not allowed',
    ],
    [
      'no matching key',
      new errors.JWKSNoMatchingKey(),
      'jwt_unknown_kid',
      'no signing key of the issuer matches the token kid',
    ],
    [
      'several matching keys',
      new errors.JWKSMultipleMatchingKeys(),
      'jwt_malformed',
      'the token names no kid and several issuer keys could match',
    ],
    ['JWS invalid', new errors.JWSInvalid('m'), 'jwt_malformed', 'the token is malformed'],
    ['JWT invalid', new errors.JWTInvalid('m'), 'jwt_malformed', 'the token is malformed'],
    ['other jose error', new errors.JWKSTimeout(), 'jwt_malformed', 'the token is malformed'],
    ['not a jose error', new TypeError('boom'), 'jwt_malformed', 'the token could not be verified'],
  ])('%s → %s', (_n, err, code, message) => {
    const mapped = mapJoseError(err);
    expect(mapped).toMatchObject({ code, safeMessage: message, cause: err });
    expect(mapped.wwwAuthenticate).toBe(bearerChallenge(message));
  });

  it('an IdentityError passes through unchanged', () => {
    const own = tokenError('jwks_unavailable', 'x');
    expect(mapJoseError(own)).toBe(own);
  });
});
