import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { PolicyIssue } from '../policy/model.js';
import { duplicateIssues, type ParsedPolicies, parsePolicyText } from '../policy/parse.js';

/**
 * Policy files and folders → parsed policies: the file-reading half of policy loading. The pure parser
 * (`policy/parse.ts`) turns each file's text into policies with file:line; this reads the files.
 */

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Loads files and folders (recursively: *.yaml, *.yml, *.json, in name order). Never throws. */
export async function loadPolicyPaths(paths: readonly string[]): Promise<ParsedPolicies> {
  const out: ParsedPolicies = { policies: [], issues: [], notes: [] };
  const files: string[] = [];
  for (const p of paths) {
    try {
      await collect(resolve(p), files, true);
    } catch (err) {
      out.issues.push(readIssue(resolve(p), err));
    }
  }
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      out.issues.push(readIssue(file, err));
      continue;
    }
    const parsed = parsePolicyText(text, file);
    out.policies.push(...parsed.policies);
    out.issues.push(...parsed.issues);
    out.notes.push(...parsed.notes);
  }
  out.issues.push(...duplicateIssues(out.policies));
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
