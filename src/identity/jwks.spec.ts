import { exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { toJwks } from './jwks.js';

describe('toJwks: a public JWK Set or nothing', () => {
  it('a set of public keys (made here) is returned as is', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const set = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] };
    expect(toJwks(set, 'JWKS of idp')).toBe(set);
    expect(toJwks({ keys: [] }, 'JWKS of idp')).toEqual({ keys: [] });
  });

  it.each([
    ['null', null],
    ['a string', 'keys'],
    ['no keys', {}],
    ['keys not a list', { keys: { kty: 'EC' } }],
  ])('%s is not a JWK Set', (_n, value) => {
    expect(() => toJwks(value, 'JWKS of idp')).toThrow('JWKS of idp is not a JWK Set ({"keys": [...]})');
  });

  it.each([
    ['null', null],
    ['a string', 'k'],
  ])('a key that is %s is refused', (_n, key) => {
    expect(() => toJwks({ keys: [key] }, 'JWKS of idp')).toThrow('JWKS of idp has a key that is not an object');
  });

  it('private or symmetric material is refused: with it anyone who reads the set could mint tokens', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const priv = await exportJWK(privateKey);
    for (const key of [priv, { kty: 'oct', k: 'c2VjcmV0' }, { kty: 'oct' }, { kty: 'EC', k: 'x' }]) {
      expect(() => toJwks({ keys: [{ kty: 'EC', x: 'a', y: 'b', crv: 'P-256' }, key] }, 'JWKS of idp')).toThrow(
        'JWKS of idp holds a private or symmetric key',
      );
    }
  });
});
