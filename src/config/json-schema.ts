import { z } from 'zod';
import { configSchema } from './schema.js';

/**
 * The config file's JSON Schema, generated from the zod schema (the one source of truth), published at
 * schemas/config.schema.json for editors (`# yaml-language-server: $schema=...`) and CI validators.
 * Regenerate with `npm run schema`; a test fails when the committed file is stale.
 *
 * `io: 'input'` describes what a user writes (fields with defaults are optional), not the parsed result. Cross-field
 * rules written as zod refinements (e.g. "a trust bundle needs one of pem, spiffeBundle or endpoint") cannot be
 * expressed here: startup still checks them, with file:line.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  return {
    $schema: schema['$schema'],
    title: 'mesh-authz config file',
    description: 'The YAML file given to `mesh-authz serve --config` (reference: docs/configuration.md).',
    ...schema,
  };
}

/** The file's exact text (stable key order, two-space indent, trailing newline). */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
