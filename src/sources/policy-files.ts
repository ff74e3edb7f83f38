import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { PolicyIssue } from '../policy/model.js';
import { duplicateIssues, type ParsedPolicies, parsePolicyText } from '../policy/parse.js';

/**
 * Policy files and folders → parsed policies: the file-reading half of policy loading. The pure parser
 * (`policy/parse.ts`) turns each file's text into policies with file:line; this reads the files.
 */

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * What each file parsed to last time, by path. A reload hands it back: a file whose text did not change keeps its
 * parsed policies (the same objects), so the policy set can reuse their compiled form too.
 */
export type ParseCache = Map<string, { readonly text: string; readonly parsed: ParsedPolicies }>;

/**
 * Loads files and folders (recursively: *.yaml, *.yml, *.json, in name order). Never throws. With `cache`, files
 * whose text is unchanged are not parsed again, and the cache is left holding exactly the files read this time.
 */
export async function loadPolicyPaths(paths: readonly string[], cache?: ParseCache): Promise<ParsedPolicies> {
  const out: ParsedPolicies = { policies: [], issues: [], notes: [] };
  const files: string[] = [];
  for (const p of paths) {
    try {
      await collect(resolve(p), files, true);
    } catch (err) {
      out.issues.push(readIssue(resolve(p), err));
    }
  }
  const seen: ParseCache = new Map();
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      out.issues.push(readIssue(file, err));
      continue;
    }
    const known = cache?.get(file);
    const parsed = known !== undefined && known.text === text ? known.parsed : parsePolicyText(text, file);
    seen.set(file, { text, parsed });
    out.policies.push(...parsed.policies);
    out.issues.push(...parsed.issues);
    out.notes.push(...parsed.notes);
  }
  out.issues.push(...duplicateIssues(out.policies));
  if (cache !== undefined) {
    cache.clear();
    for (const [file, entry] of seen) cache.set(file, entry);
  }
  return out;
}

async function collect(path: string, files: string[], explicit: boolean): Promise<void> {
  const info = await stat(path);
  if (info.isDirectory()) {
    const entries = (await readdir(path)).sort();
    for (const name of entries) {
      if (name.startsWith('.')) continue; // editor swap files, Kubernetes ConfigMap ..data links
      await collect(join(path, name), files, false);
    }
  } else if (explicit || EXTENSIONS.has(extname(path).toLowerCase())) files.push(path);
}

function readIssue(file: string, err: unknown): PolicyIssue {
  const code = (err as NodeJS.ErrnoException).code;
  return {
    severity: 'error',
    file,
    line: 0,
    path: '',
    message: code === 'ENOENT' ? 'no such file or directory' : `cannot read: ${(err as Error).message}`,
    code: 'read_failed',
  };
}
