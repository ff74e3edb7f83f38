import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { type Config, configSchema } from './schema.js';

/** A loaded config and where it came from (relative paths inside are resolved against `dir`). */
export interface LoadedConfig {
  readonly config: Config;
  readonly file: string;
  readonly dir: string;
}

/** Reads, parses and validates a YAML (or JSON) config file. Throws {@link ConfigError} naming file and line. */
export function loadConfigFile(file: string): LoadedConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ConfigError(
      missing ? 'config_not_found' : 'config_unreadable',
      `${abs}: ${missing ? 'no such file' : `cannot read: ${(err as Error).message}`}`,
      abs,
      null,
      { cause: err },
    );
  }
  return { config: parseConfigText(text, abs), file: abs, dir: dirname(abs) };
}

/** Parses config text; `file` is used in messages. */
export function parseConfigText(text: string, file: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = lineCounter.linePos(e.pos[0]).line;
    throw new ConfigError('config_syntax', `${file}:${line}: YAML syntax error: ${e.message}`, file, line);
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  const messages = result.error.issues.map((issue) => {
    const at = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
    const line = lineOf(doc, lineCounter, at);
    const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    return { line, text: `${file}:${line ?? '?'}: ${key}: ${describe(issue)}` };
  });
  throw new ConfigError('config_invalid', messages.map((m) => m.text).join('\n'), file, messages[0]?.line ?? null);
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  return issue.message;
}

/** The line of the deepest node along `path` that exists in the document. */
function lineOf(doc: ReturnType<typeof parseDocument>, lc: LineCounter, path: readonly PropertyKey[]): number | null {
  let node: unknown = doc.contents;
  let offset: number | null = (node as { range?: [number] } | null)?.range?.[0] ?? null;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === key);
      if (!pair) break;
      const k = pair.key as { range?: [number] } | null;
      offset = k?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      offset = (node as { range?: [number] } | null)?.range?.[0] ?? offset;
    } else break;
  }
  return offset === null ? null : lc.linePos(offset).line;
}

/** Resolves a path from the config file against the file's folder. */
export function resolveFrom(loaded: Pick<LoadedConfig, 'dir'>, path: string): string {
  return isAbsolute(path) ? path : resolve(loaded.dir, path);
}
