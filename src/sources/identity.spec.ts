import { describe, expect, it } from 'vitest';
import { identityConfig } from '../../test/support/identity-config.js';
import { identityOptions } from './identity.js';

describe('identityOptions: the config file section as the identity library sees it', () => {
  const config = identityConfig({
    peer: { sources: ['xfcc', 'certificate'], xfcc: { trust: 'only' } },
    jwt: {
      issuers: [
        { issuer: 'https://idp', jwks: { url: 'https://idp/jwks' }, audiences: ['shop'], groupsClaims: ['roles'] },
      ],
      jwtSvid: { audiences: ['mesh'] },
    },
  });

  it('carries every verification setting through unchanged', () => {
    const o = identityOptions(config);
    expect(o.peer).toEqual({ sources: ['xfcc', 'certificate'], trustEnvoyPrincipal: false, xfcc: { trust: 'only' } });
    expect(o.jwt.issuers[0]).toMatchObject({ issuer: 'https://idp', audiences: ['shop'], groupsClaims: ['roles'] });
    expect(o.jwt.issuers[0]!.algorithms).toEqual(config.jwt.issuers[0]!.algorithms);
    expect(o.jwt.jwtSvid).toEqual(config.jwt.jwtSvid);
    expect(o.jwt.envoyJwtAuthn).toEqual(config.jwt.envoyJwtAuthn);
  });

  it('keeps where key material lives (JWKS location, refresh cooldown) on the I/O side', () => {
    const issuer = identityOptions(config).jwt.issuers[0]!;
    expect(issuer).not.toHaveProperty('jwks');
    expect(issuer).not.toHaveProperty('jwksCooldownSeconds');
    expect(identityOptions(config)).not.toHaveProperty('trustBundles');
  });

  it('leaves jwtSvid out when the config has none', () => {
    expect(identityOptions(identityConfig({})).jwt).not.toHaveProperty('jwtSvid');
  });
});
