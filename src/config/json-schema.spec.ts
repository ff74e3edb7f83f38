import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configJsonSchema, configJsonSchemaText } from './json-schema.js';
import { parseConfigText } from './load.js';

const root = join(import.meta.dirname, '../..');
const committed = join(root, 'schemas', 'config.schema.json');
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validate = ajv.compile(configJsonSchema());
const SCHEMA_COMMENT = /^# yaml-language-server: \$schema=(\S+)\n/;

/** Every config file the repository ships, with the schema its editor comment points at. */
const shipped = ['examples/config.yaml', 'istio/config/config.yaml', 'envoy/demo/mesh-authz.yaml'];

describe('schemas/config.schema.json', () => {
  it('is what the zod schema generates today (run `npm run schema` after changing src/config/schema.ts)', () => {
    expect(readFileSync(committed, 'utf8'), 'stale: run `npm run schema`').toBe(configJsonSchemaText());
  });

  it.each(shipped)('%s names the schema on its first line and validates against it (ajv) and zod', (rel) => {
    const text = readFileSync(join(root, rel), 'utf8');
    const m = SCHEMA_COMMENT.exec(text);
    expect(m, 'first line: # yaml-language-server: $schema=...').not.toBeNull();
    expect(join(root, rel, '..', m![1]!)).toBe(committed);
    const ok = validate(parse(text));
    expect(validate.errors ?? [], rel).toEqual([]);
    expect(ok).toBe(true);
    expect(() => parseConfigText(text, rel)).not.toThrow();
  });

  it('refuses what zod refuses: unknown keys, wrong types, bad enums, bad host:port (it can fail)', () => {
    const bad: unknown[] = [
      { server: { drainTimeoutMS: 5 } },
      { server: { drainTimeoutMs: 'soon' } },
      { policy: { mode: 'permissive' } },
      { admin: { listen: '9192' } },
      { identity: { jwt: { issuers: [{ issuer: 'x', jwks: { file: 'j' }, audiences: [] }] } } },
      { colour: 'blue' },
    ];
    for (const config of bad) {
      expect(validate(config), JSON.stringify(config)).toBe(false);
      expect(() => parseConfigText(JSON.stringify(config), 'x.json')).toThrow();
    }
    // Must match: an empty file and every section left to its defaults are valid.
    expect(validate({})).toBe(true);
    expect(validate({ server: {}, admin: {}, policy: {}, identity: {}, telemetry: {}, cache: {}, discovery: {} })).toBe(
      true,
    );
  });
});
