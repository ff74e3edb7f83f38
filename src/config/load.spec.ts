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
    expect((err as ConfigError).message).toMatch(/^c\.yaml:3: server: unknown key 'bogus' \(known keys: listen, /);
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

describe('config errors point at the mistake', () => {
  const message = (text: string) => {
    try {
      parseConfigText(text, 'c.yaml');
    } catch (e) {
      return (e as ConfigError).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('an unknown key suggests the nearest known key, at its own line', () => {
    const text = 'server:\n  listen: 127.0.0.1:9191\n  checkTimeoutMs: 200\n  drainTimeoutMS: 5\n  maxHeader: 9\n';
    expect(message(text).split('\n')).toEqual([
      "c.yaml:4: server: unknown key 'drainTimeoutMS' (did you mean 'drainTimeoutMs'?)",
      "c.yaml:5: server: unknown key 'maxHeader' (did you mean 'maxHeaders'?)",
    ]);
    // Inside arrays and at the top level too.
    expect(message('identity:\n  jwt:\n    issuers:\n      - issuer: x\n        audience: [a]\n')).toContain(
      "c.yaml:5: identity.jwt.issuers.0: unknown key 'audience' (did you mean 'audiences'?)",
    );
    expect(message('polciy: {}\n')).toBe("c.yaml:1: (top level): unknown key 'polciy' (did you mean 'policy'?)");
    // Must not suggest: nothing is close, so the known keys are listed instead of a wrong guess.
    expect(message('admin:\n  colour: blue\n')).toBe(
      "c.yaml:2: admin: unknown key 'colour' (known keys: listen, enabled)",
    );
  });

  it('YAML syntax errors name the line of the mistake, not where the parser gave up', () => {
    // An unclosed quote on line 2 (the parser notices at the end of the file).
    expect(message('server:\n  listen: "127.0.0.1:9191\nadmin:\n  enabled: true\npolicy:\n  paths: []\n')).toMatch(
      /^c\.yaml:2: YAML syntax error/,
    );
    // An unclosed flow map on line 4 of a longer file.
    const text = [
      'server:',
      '  listen: 127.0.0.1:9191',
      '  checkTimeoutMs: 200',
      '  tls: { cert: a.pem, key: a.key',
      '  drainTimeoutMs: 5000',
      'admin:',
      '  listen: 127.0.0.1:0',
      'policy:',
      '  paths: [a]',
      '  mode: enforce',
      '',
    ].join('\n');
    expect(message(text)).toMatch(/^c\.yaml:4: YAML syntax error/);
    // An unclosed flow sequence; a plain indentation mistake is reported where it is.
    expect(message('policy:\n  paths: [a, b\n  mode: enforce\ncache: {}\n')).toMatch(/^c\.yaml:2: /);
    expect(message('a: 1\nb: 2\n c: 3\n')).toMatch(/^c\.yaml:3: YAML syntax error/);
    expect(message('server:\n  listen: 127.0.0.1:1\n   checkTimeoutMs: 2\n')).toMatch(/^c\.yaml:3: YAML syntax error/);
    // Must not move a correct report: closed quotes and collections before the real error are ignored.
    expect(message("a: \"closed\"\nb: { c: 1 }\nc: [1]\nd: 'x''y'\ne:\n  - f\n g: 1\n")).toMatch(/^c\.yaml:7: /);
  });
});

describe('verifyPolicyPaths', () => {
  it('a missing policy path is reported at its line in the config file', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadConfigFile, verifyPolicyPaths } = await import('./load.js');
    const dir = mkdtempSync(join(tmpdir(), 'mesh-authz-paths-'));
    try {
      mkdirSync(join(dir, 'present'));
      const file = join(dir, 'c.yaml');
      writeFileSync(file, 'server: {}\npolicy:\n  paths:\n    - present\n    - missing\n');
      const err = (() => {
        try {
          verifyPolicyPaths(loadConfigFile(file));
        } catch (e) {
          return e as ConfigError;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect(err!.line).toBe(5);
      expect(err!.message).toBe(`${file}:5: policy.paths[1]: ${join(dir, 'missing')}: no such file or directory`);
      // Must match: every path present → no error.
      writeFileSync(file, 'policy:\n  paths: [present]\n');
      expect(() => verifyPolicyPaths(loadConfigFile(file))).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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

  it('xfcc: the sources list is the one switch; an old xfcc.enabled that contradicts it is refused', () => {
    expect(() => parseConfigText('identity:\n  peer:\n    xfcc:\n      enabled: true\n', 'c.yaml')).toThrow(
      /c\.yaml:4: identity\.peer\.xfcc\.enabled: is true but "xfcc" is not in identity\.peer\.sources/,
    );
    expect(() =>
      parseConfigText('identity:\n  peer:\n    sources: [xfcc]\n    xfcc: { enabled: false }\n', 'c.yaml'),
    ).toThrow(/c\.yaml:4: identity\.peer\.xfcc\.enabled: is false but identity\.peer\.sources lists "xfcc"/);
    // The other side: the source alone is enough, and an agreeing old switch still loads.
    expect(parseConfigText('identity:\n  peer:\n    sources: [xfcc]\n', 'c.yaml').identity.peer.sources).toEqual([
      'xfcc',
    ]);
    const old = parseConfigText('identity:\n  peer:\n    sources: [xfcc]\n    xfcc: { enabled: true }\n', 'c.yaml');
    expect(old.identity.peer.sources).toEqual(['xfcc']);
  });

  it('a peer source listed twice', () => {
    expect(() => parseConfigText('identity:\n  peer:\n    sources: [certificate, certificate]\n', 'c.yaml')).toThrow(
      /c\.yaml:3: identity\.peer\.sources: lists a source twice/,
    );
  });
});
