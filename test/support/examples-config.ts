import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * examples/config.yaml rewritten for a test: ephemeral ports, absolute paths to the example policies and
 * identities, `server.drainTimeoutMs` as asked, and its `telemetry:` section replaced by `telemetry` (YAML text
 * of the section's body, indented by two spaces).
 */

export const EXAMPLES = join(import.meta.dirname, '../../examples');

export function writeExamplesConfig(file: string, options: { drainTimeoutMs?: number; telemetry: string }): string {
  const text = readFileSync(join(EXAMPLES, 'config.yaml'), 'utf8')
    .replace('listen: 127.0.0.1:9191', 'listen: 127.0.0.1:0')
    .replace('listen: 127.0.0.1:9901', 'listen: 127.0.0.1:0')
    .replace('drainTimeoutMs: 5000', `drainTimeoutMs: ${options.drainTimeoutMs ?? 5000}`)
    .replaceAll(/(paths: \[|pem: |file: )(policies|identities)/g, `$1${EXAMPLES}/$2`)
    .replace(/\ntelemetry:[\s\S]*?(?=\n\S|$)/, '');
  writeFileSync(file, `${text}\ntelemetry:\n${options.telemetry}`);
  return file;
}
