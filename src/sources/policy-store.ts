import { type FSWatcher, watch as fsWatch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type PolicyIssue, PolicyLoadError } from '../policy/model.js';
import type { CompileOptions } from '../policy/options.js';
import { compilePolicySet, compilePolicySetInSlices, type PolicySet, type Yielder } from '../policy/set.js';
import {
  type ParseCache,
  type ParsedSnapshotFiles,
  type PolicySnapshot,
  parseSnapshot,
  parseSnapshotInSlices,
  readPolicySnapshot,
  sameSnapshot,
} from './policy-files.js';
import { droppedNamespaces, emptiedFiles } from './reload-guard.js';
import { timeSlicer, warmInBackground } from './time-slice.js';

/**
 * Holds the current policy set and reloads it when the files change. A reload parses, validates and compiles the
 * whole new set before swapping it in (one assignment: readers see the old set or the new one, never a mix);
 * an invalid change is refused and the last good set keeps serving. A reload parses and compiles in time slices
 * (`reloadSliceMs`), yielding to the event loop between them, so Checks are answered by the serving set while a
 * large change compiles. The store reads files, so it sits at the edge of `policy/`; evaluation itself stays pure.
 *
 * A file being edited must never open the mesh (under Istio's rules fewer policies can mean more allowed):
 * - a reload applies only files that are stable: read, then read again after `debounceMs`, identical both times;
 * - a file that became empty, lost every document or disappeared must stay so for `emptyFileGraceMs` (an editor's
 *   truncate-then-write, `cp`, rsync or `git checkout` rewrite it well within that);
 * - a stable set that would drop every policy of a namespace (the root namespace included) is refused unless
 *   `allowEmpty`, reported once per refused content; the last good set keeps serving.
 */

export type ReloadEvent =
  | {
      readonly ok: true;
      readonly generation: number;
      readonly policies: number;
      readonly notes: readonly string[];
      readonly warnings: readonly PolicyIssue[];
    }
  | {
      readonly ok: false;
      readonly generation: number;
      readonly issues: readonly PolicyIssue[];
      /** Set when the new set was valid but refused: it would drop every policy of these namespaces. */
      readonly refused?: { readonly reason: 'drops_namespace'; readonly namespaces: readonly string[] };
    };

export interface PolicyStoreOptions {
  readonly paths: readonly string[];
  readonly compile: CompileOptions;
  readonly watch: boolean;
  /** Told of every reload attempt after the initial load. */
  readonly onReload?: (event: ReloadEvent) => void;
  /**
   * Quiet time after the last file event before reloading (editors write in several steps), and between the two
   * reads that must agree before a change applies. Default 200 ms.
   */
  readonly debounceMs?: number;
  /** How long a file that became empty, lost its documents or disappeared must stay so. Default 3000 ms. */
  readonly emptyFileGraceMs?: number;
  /** Apply a reload that drops every policy of a namespace. Default false: refuse it. */
  readonly allowEmpty?: boolean;
  /**
   * A reload parses and compiles in slices of about this many milliseconds, yielding to the event loop between
   * them so Checks keep being answered (by the set serving until the swap). Default 4.
   */
  readonly reloadSliceMs?: number;
}

export class PolicyStore {
  private set: PolicySet | null = null;
  private gen = 0;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private reloading: Promise<void> | null = null;
  private again = false;
  private closed = false;
  /** Policies per file in the set serving now: what "a file became empty" is judged against. */
  private perFile = new Map<string, number>();
  /** The content last refused, so one refusal is reported once, not on every file event. */
  private refusedSnapshot: PolicySnapshot | null = null;
  /** Each file's text and parse in the set serving now, so a reload parses and compiles only what changed. */
  private parsed: ParseCache = new Map();
  /** The background compile of the serving set's policies (see {@link PolicySet.warm}). */
  private warming: Promise<void> = Promise.resolve();

  constructor(private readonly options: PolicyStoreOptions) {}

  get generation(): number {
    return this.gen;
  }

  current(): PolicySet | null {
    return this.set;
  }

  /** The initial load. Throws {@link PolicyLoadError} when any policy is invalid or unreadable. */
  async load(): Promise<PolicySet> {
    const snapshot = await readPolicySnapshot(this.options.paths);
    const { set, issues, perFile } = this.buildAtOnce(this.parse(snapshot));
    if (set === null) {
      const unreadable = issues.some((i) => i.code === 'read_failed');
      throw new PolicyLoadError(unreadable ? 'unreadable' : 'invalid_policy', issues);
    }
    this.swap(set, perFile);
    if (this.options.watch) await this.watch();
    return set;
  }

  /** Reloads now (also what file events trigger). Resolves when this reload, or one already running, is done. */
  async reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.again = false;
        // A background reload never rejects (it runs from a file-watch timer, where a rejection would be
        // unhandled and end the process): an unexpected failure is a refused change, the last good set serves.
        let stable: Awaited<ReturnType<PolicyStore['stableSnapshot']>>;
        let built: Built;
        try {
          stable = await this.stableSnapshot();
          if (stable === null) return;
          // Awaited so that a build step that fails in any way (a throw or a rejection) lands in this catch.
          built = await this.build(stable.parsed);
        } catch (err) {
          const message = `reload failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`;
          const issue: PolicyIssue = {
            severity: 'error',
            file: this.options.paths.join(', '),
            line: 0,
            path: '',
            message,
            code: 'read_failed',
          };
          this.tell({ ok: false, generation: this.gen, issues: [issue] });
          continue;
        }
        if (this.closed) return;
        const { snapshot } = stable;
        const { set, issues, notes, perFile } = built;
        if (set === null) {
          this.tell({ ok: false, generation: this.gen, issues });
          continue;
        }
        // A turn of the event loop between the last compile slice and the whole-set checks and the swap below.
        await nextTurn();
        if (this.closed) return;
        const dropped = this.options.allowEmpty ? [] : droppedNamespaces(this.set, set);
        if (dropped.length > 0) {
          // Refused: report it once per refused content (the watcher fires on every write of the same file).
          const repeat = this.refusedSnapshot !== null && sameSnapshot(this.refusedSnapshot, snapshot);
          this.refusedSnapshot = snapshot;
          if (!repeat) {
            this.tell({
              ok: false,
              generation: this.gen,
              issues: [],
              refused: { reason: 'drops_namespace', namespaces: dropped },
            });
          }
          continue;
        }
        this.swap(set, perFile);
        this.tell({
          ok: true,
          generation: this.gen,
          policies: set.policies.length,
          notes,
          warnings: issues,
        });
      } while (this.again && !this.closed);
    })().finally(() => {
      this.reloading = null;
    });
    return this.reloading;
  }

  /** Watches every path (folders and their files; a file's folder too, to see it replaced or created). */
  async watch(): Promise<void> {
    if (this.watchers.length > 0 || this.closed) return;
    const targets = new Set<string>();
    for (const p of this.options.paths) {
      const abs = resolve(p);
      try {
        const info = await stat(abs);
        targets.add(info.isDirectory() ? abs : dirname(abs));
        if (!info.isDirectory()) targets.add(abs);
      } catch {
        targets.add(dirname(abs));
      }
    }
    for (const loaded of this.set?.policies ?? []) targets.add(dirname(loaded.source.file));
    for (const target of targets) {
      try {
        const w = fsWatch(target, { persistent: false }, () => this.schedule());
        w.on('error', () => this.schedule());
        this.watchers.push(w);
      } catch {
        // A path that vanished: the reload will report it.
      }
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reload();
    }, this.options.debounceMs ?? 200);
    this.timer.unref?.();
  }

  /** The reload listener (logs, metrics) failing must not fail the reload: the swap has happened or not. */
  private tell(event: ReloadEvent): void {
    try {
      this.options.onReload?.(event);
    } catch {
      // Nothing left to report it to; the policy state is already consistent.
    }
  }

  private swap(set: PolicySet, perFile: Map<string, number>): void {
    this.set = set;
    this.gen = set.generation;
    this.perFile = perFile;
    this.refusedSnapshot = null;
    // The set compiles each namespace when a request first needs it; compile the rest now, in slices, so first
    // requests rarely pay for it. Stops when this set is replaced or the store closes.
    this.warming = warmInBackground(set, this.slicer(), () => this.closed || this.set !== set);
  }

  /** Resolves when the serving set has compiled every policy (or was replaced meanwhile). */
  warmed(): Promise<void> {
    return this.warming;
  }

  /**
   * Reads until two reads, `debounceMs` apart (`emptyFileGraceMs` while a file that held policies is empty,
   * document-less or gone), see the same content. Null when the store closed meanwhile.
   */
  private async stableSnapshot(): Promise<{ snapshot: PolicySnapshot; parsed: ParsedSnapshot } | null> {
    const debounce = this.options.debounceMs ?? 200;
    const grace = Math.max(debounce, this.options.emptyFileGraceMs ?? 3000);
    let snapshot = await readPolicySnapshot(this.options.paths);
    for (;;) {
      // Parsed once per read: the same content parses the same, so the stable read reuses it.
      const cache: ParseCache = new Map(this.parsed);
      const parsed = { ...(await parseSnapshotInSlices(snapshot, cache, this.slicer())), cache };
      await sleep(emptiedFiles(this.perFile, parsed.perFile) ? grace : debounce);
      if (this.closed) return null;
      const again = await readPolicySnapshot(this.options.paths);
      if (sameSnapshot(snapshot, again)) return { snapshot: again, parsed };
      snapshot = again;
    }
  }

  /** Parses against a copy of the cache: a refused reload must leave the cache as the serving set saw it. */
  private parse(snapshot: PolicySnapshot): ParsedSnapshot {
    const cache: ParseCache = new Map(this.parsed);
    return { ...parseSnapshot(snapshot, cache), cache };
  }

  /** The initial load's build: all at once (nothing is served yet, and one pass is the fastest). */
  private buildAtOnce({ parsed, perFile, cache }: ParsedSnapshot): Built {
    const { policies, issues, notes } = parsed;
    if (issues.some((i) => i.severity === 'error')) return { set: null, issues, notes, perFile };
    const set = compilePolicySet(policies, this.options.compile, this.gen + 1, this.set);
    this.parsed = cache;
    return { set, issues, notes, perFile };
  }

  /** A reload's build: compiled in slices while the current set keeps serving; swapped in by the caller. */
  private async build({ parsed, perFile, cache }: ParsedSnapshot): Promise<Built> {
    const { policies, issues, notes } = parsed;
    if (issues.some((i) => i.severity === 'error')) return { set: null, issues, notes, perFile };
    const set = await compilePolicySetInSlices(policies, this.options.compile, this.gen + 1, this.set, this.slicer());
    this.parsed = cache;
    return { set, issues, notes, perFile };
  }

  private slicer(): Yielder {
    return timeSlicer(this.options.reloadSliceMs ?? 4);
  }
}

type ParsedSnapshot = ParsedSnapshotFiles & { readonly cache: ParseCache };

interface Built {
  readonly set: PolicySet | null;
  readonly issues: PolicyIssue[];
  readonly notes: string[];
  readonly perFile: Map<string, number>;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}
