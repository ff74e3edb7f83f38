import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { knownKeysAt, nearestKey, syntaxErrorLine } from './diagnose.js';
import { ConfigError } from './errors.js';
import { type Config, configSchema } from './schema.js';

/** A loaded config and where it came from (relative paths inside are resolved against `dir`). */
export interface LoadedConfig {
  readonly config: Config;
  readonly file: string;
  readonly dir: string;
  /** The line of a key in the file (e.g. `['policy', 'paths', 0]`), for messages about values found wrong later. */
  readonly lineOf?: (path: readonly PropertyKey[]) => number | null;
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
  const { config, lineOf } = parseConfigSource(text, abs);
  return { config, file: abs, dir: dirname(abs), lineOf };
}

/** Parses config text; `file` is used in messages. */
export function parseConfigText(text: string, file: string): Config {
  return parseConfigSource(text, file).config;
}

/** Parses config text and keeps a way back from a key to its line. */
export function parseConfigSource(
  text: string,
  file: string,
): { config: Config; lineOf: (path: readonly PropertyKey[]) => number | null } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = syntaxErrorLine(text, doc.errors, lineCounter);
    throw new ConfigError('config_syntax', `${file}:${line}: YAML syntax error: ${e.message}`, file, line);
  }
  const lineAt = (path: readonly PropertyKey[]) => lineOf(doc, lineCounter, path);
  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  if (result.success) return { config: result.data, lineOf: lineAt };
  const messages = result.error.issues.flatMap((issue) => {
    const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    if (issue.code === 'unrecognized_keys') {
      // One message per unknown key, each at its own line, with the likely intended key.
      const known = knownKeysAt(configSchema, issue.path);
      return issue.keys.map((k) => {
        const line = lineAt([...issue.path, k]);
        const near = nearestKey(k, known);
        const hint = near ? ` (did you mean '${near}'?)` : known.length > 0 ? ` (known keys: ${known.join(', ')})` : '';
        return { line, text: `${file}:${line ?? '?'}: ${key}: unknown key '${k}'${hint}` };
      });
    }
    const line = lineAt(issue.path);
    return [{ line, text: `${file}:${line ?? '?'}: ${key}: ${issue.message}` }];
  });
  throw new ConfigError('config_invalid', messages.map((m) => m.text).join('\n'), file, messages[0]?.line ?? null);
}

/**
 * Policy paths must exist when the server starts: a missing one is a config mistake, reported at its line in the
 * config file (the policy loader could only name the missing path itself).
 */
export function verifyPolicyPaths(loaded: LoadedConfig): void {
  const problems: string[] = [];
  let first: number | null = null;
  loaded.config.policy.paths.forEach((p, i) => {
    const abs = resolveFrom(loaded, p);
    try {
      statSync(abs);
    } catch (err) {
      const line = loaded.lineOf?.(['policy', 'paths', i]) ?? null;
      first ??= line;
      const why =
        (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
      problems.push(`${loaded.file}:${line ?? '?'}: policy.paths[${i}]: ${abs}: ${why}`);
    }
  });
  if (problems.length > 0) throw new ConfigError('config_invalid', problems.join('\n'), loaded.file, first);
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
