import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { parseConfigText } from './load.js';

describe('parseConfigText', () => {
  it('gives every section its defaults for an empty file', () => {
    const config = parseConfigText('', 'c.yaml');
    expect(config.server.listen).toBe('127.0.0.1:9191');
    expect(config.policy.rootNamespace).toBe('istio-system');
    expect(config.policy.pathNormalization).toBe('BASE');
    expect(config.cache.enabled).toBe(true);
  });

  it('names the file, line and key of an unknown key', () => {
    const err = (() => {
      try {
        parseConfigText('server:\n  listen: 127.0.0.1:1\n  bogus: 1\n', 'c.yaml');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/^c\.yaml:3: server: unknown key\(s\) 'bogus'/);
  });

  it('names the line of a bad value', () => {
    expect(() => parseConfigText('policy:\n  mode: maybe\n', 'c.yaml')).toThrow(/c\.yaml:2: policy\.mode/);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(() => parseConfigText('a: [1,\n', 'c.yaml')).toThrow(/c\.yaml:\d+: YAML syntax error/);
  });

  it('refuses an issuer with an empty audience list rather than accepting any audience', () => {
    const text =
      'identity:\n  jwt:\n    issuers:\n      - issuer: https://idp\n        jwks: { file: j.json }\n        audiences: []\n';
    expect(() => parseConfigText(text, 'c.yaml')).toThrow(/audiences/);
  });
});

describe('contradictions are refused by the schema, naming the line', () => {
  it('principal as a peer source without trustEnvoyPrincipal', () => {
    const text = 'identity:\n  peer:\n    sources: [certificate, principal]\n';
    expect(() => parseConfigText(text, 'c.yaml')).toThrow(/c\.yaml:3: identity\.peer\.sources: has "principal"/);
    // The other side: with trustEnvoyPrincipal the same sources load.
    const ok = parseConfigText(`${text}    trustEnvoyPrincipal: true\n`, 'c.yaml');
    expect(ok.identity.peer.sources).toEqual(['certificate', 'principal']);
  });

  it('xfcc enabled without "xfcc" in the sources, and the reverse', () => {
    expect(() => parseConfigText('identity:\n  peer:\n    xfcc:\n      enabled: true\n', 'c.yaml')).toThrow(
      /c\.yaml:4: identity\.peer\.xfcc\.enabled: .*set together/,
    );
    expect(() => parseConfigText('identity:\n  peer:\n    sources: [xfcc]\n', 'c.yaml')).toThrow(/set together/);
    const ok = parseConfigText('identity:\n  peer:\n    sources: [xfcc]\n    xfcc: { enabled: true }\n', 'c.yaml');
    expect(ok.identity.peer.xfcc.enabled).toBe(true);
  });

  it('a peer source listed twice', () => {
    expect(() => parseConfigText('identity:\n  peer:\n    sources: [certificate, certificate]\n', 'c.yaml')).toThrow(
      /c\.yaml:3: identity\.peer\.sources: lists a source twice/,
    );
  });
});
