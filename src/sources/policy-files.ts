import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { PolicyIssue } from '../policy/model.js';
import { DuplicateFinder, type ParsedPolicies, parsePolicyText } from '../policy/parse.js';
import type { Yielder } from '../policy/set.js';

/**
 * Policy files and folders → parsed policies: the file-reading half of policy loading. The pure parser
 * (`policy/parse.ts`) turns each file's text into policies with file:line; this reads the files.
 */

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Loads files and folders (recursively: *.yaml, *.yml, *.json, in name order). Never throws. */
export async function loadPolicyPaths(paths: readonly string[]): Promise<ParsedPolicies> {
  return parseSnapshot(await readPolicySnapshot(paths)).parsed;
}

/** The raw content of the policy files at one moment: what a reload compares to decide the files are stable. */
export interface PolicySnapshot {
  readonly files: readonly { readonly file: string; readonly text: string }[];
  /** Paths that could not be listed or read. */
  readonly issues: readonly PolicyIssue[];
}

/** Reads every policy file under `paths` (no parsing). Never throws. */
export async function readPolicySnapshot(paths: readonly string[]): Promise<PolicySnapshot> {
  const issues: PolicyIssue[] = [];
  const names: string[] = [];
  for (const p of paths) {
    try {
      await collect(resolve(p), names, true);
    } catch (err) {
      issues.push(readIssue(resolve(p), err));
    }
  }
  // Read several at a time (each read is a few round trips to libuv's thread pool; one after another, a folder of
  // a few hundred files waited on each in turn), kept in name order.
  const texts = await mapLimited(names, READ_CONCURRENCY, async (file) => {
    try {
      return decodeUtf8(await readFile(file), file);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  });
  const files: { file: string; text: string }[] = [];
  names.forEach((file, i) => {
    const text = texts[i]!;
    if (typeof text === 'string') files.push({ file, text });
    else issues.push(text instanceof Error ? readIssue(file, text) : text);
  });
  return { files, issues };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A policy file's bytes as text, refused (an issue at the line of the first bad byte) when they are not UTF-8:
 * Kubernetes and Istio's YAML reader refuse such a file, and a lossy read would turn the bytes into U+FFFD inside
 * a principal or a path and load a rule the operator never wrote.
 */
function decodeUtf8(bytes: Buffer, file: string): string | PolicyIssue {
  try {
    return UTF8.decode(bytes);
  } catch {
    // The first bad byte: the shortest prefix that fails a strict decode (validity of prefixes is monotone, so a
    // binary search; only on this failure path).
    let lo = 0;
    let hi = bytes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (validPrefix(bytes.subarray(0, mid + 1))) lo = mid + 1;
      else hi = mid;
    }
    const bad = Math.min(lo, bytes.length - 1);
    let line = 1;
    for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
    return {
      severity: 'error',
      file,
      line,
      path: '',
      message: `not valid UTF-8 (byte 0x${bytes[bad]!.toString(16).padStart(2, '0')}); save the file as UTF-8`,
      code: 'read_failed',
    };
  }
}

/** True when `bytes` is UTF-8, allowing a character cut off at its end. */
function validPrefix(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** Reads in flight at once: libuv's pool has 4 threads by default; more only queue. */
const READ_CONCURRENCY = 8;

/** `work` over `items` with at most `limit` running at once; results in the order of `items`. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * What each file parsed to last time, by path. A reload hands it back: a file whose text did not change keeps its
 * parsed policies (the same objects), so the policy set can reuse their compiled form too.
 */
export type ParseCache = Map<string, { readonly text: string; readonly parsed: ParsedPolicies }>;

/**
 * Parses a snapshot; `perFile` counts the policies each file holds (0 for an empty or document-less file). With
 * `cache`, files whose text is unchanged are not parsed again, and the cache is left holding exactly these files.
 */
export function parseSnapshot(snapshot: PolicySnapshot, cache?: ParseCache): ParsedSnapshotFiles {
  const parse = new SnapshotParse(snapshot);
  for (const file of snapshot.files) parse.add(file, cache);
  return parse.finish(cache);
}

/**
 * {@link parseSnapshot} one file at a time, asking `yielder` after each file whether to let other work run (a
 * reload in the background of a serving process). Same result.
 */
export async function parseSnapshotInSlices(
  snapshot: PolicySnapshot,
  cache: ParseCache | undefined,
  yielder: Yielder,
): Promise<ParsedSnapshotFiles> {
  const parse = new SnapshotParse(snapshot);
  for (const file of snapshot.files) {
    parse.add(file, cache);
    const pause = yielder();
    if (pause !== undefined) await pause;
  }
  return parse.finish(cache);
}

export interface ParsedSnapshotFiles {
  readonly parsed: ParsedPolicies;
  readonly perFile: Map<string, number>;
}

class SnapshotParse {
  private readonly out: ParsedPolicies;
  private readonly perFile = new Map<string, number>();
  private readonly seen: ParseCache = new Map();
  /** Duplicates found file by file (within the slice that reads the file), reported after every file's issues. */
  private readonly duplicates = new DuplicateFinder();

  constructor(snapshot: PolicySnapshot) {
    this.out = { policies: [], issues: [...snapshot.issues], notes: [] };
  }

  add({ file, text }: { file: string; text: string }, cache: ParseCache | undefined): void {
    const known = cache?.get(file);
    const parsed = known !== undefined && known.text === text ? known.parsed : parsePolicyText(text, file);
    this.seen.set(file, { text, parsed });
    this.perFile.set(file, parsed.policies.length);
    // Loops, not push(...list): a spread of a long list can overflow the stack.
    for (const p of parsed.policies) {
      this.out.policies.push(p);
      this.duplicates.add(p);
    }
    for (const i of parsed.issues) this.out.issues.push(i);
    for (const n of parsed.notes) this.out.notes.push(n);
  }

  finish(cache: ParseCache | undefined): ParsedSnapshotFiles {
    for (const i of this.duplicates.issues) this.out.issues.push(i);
    if (cache !== undefined) {
      cache.clear();
      for (const [file, entry] of this.seen) cache.set(file, entry);
    }
    return { parsed: this.out, perFile: this.perFile };
  }
}

/** Two reads saw exactly the same files, contents and read failures. */
export function sameSnapshot(a: PolicySnapshot, b: PolicySnapshot): boolean {
  if (a.files.length !== b.files.length || a.issues.length !== b.issues.length) return false;
  for (let i = 0; i < a.files.length; i++) {
    if (a.files[i]!.file !== b.files[i]!.file || a.files[i]!.text !== b.files[i]!.text) return false;
  }
  for (let i = 0; i < a.issues.length; i++) {
    if (a.issues[i]!.file !== b.issues[i]!.file || a.issues[i]!.message !== b.issues[i]!.message) return false;
  }
  return true;
}

async function collect(path: string, files: string[], explicit: boolean): Promise<void> {
  const info = await stat(path);
  if (info.isDirectory()) {
    // editor swap files, Kubernetes ConfigMap ..data links
    const entries = (await readdir(path)).sort().filter((name) => !name.startsWith('.'));
    // Each entry's stat (and a subfolder's listing) in parallel, its files then added in name order.
    const found = await mapLimited(entries, READ_CONCURRENCY, async (name) => {
      const inner: string[] = [];
      try {
        await collect(join(path, name), inner, false);
      } catch (err) {
        return { inner, err };
      }
      return { inner, err: null };
    });
    // As a walk in name order would: the files before the first entry that fails, then that entry's error.
    for (const { inner, err } of found) {
      for (const f of inner) files.push(f);
      if (err !== null) throw err;
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
