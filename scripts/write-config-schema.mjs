// Regenerates schemas/config.schema.json from the zod schema (run `npm run schema`, which builds first).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { configJsonSchemaText } from '../dist/src/config/json-schema.js';

const out = join(import.meta.dirname, '..', 'schemas', 'config.schema.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, configJsonSchemaText());
console.log(`wrote ${out}`);
