import { type FSWatcher, watch as fsWatch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type LoadedPolicy, type PolicyIssue, PolicyLoadError } from '../policy/model.js';
import type { CompileOptions } from '../policy/options.js';
import { compilePolicySet, type PolicySet } from '../policy/set.js';
import { loadPolicyPaths } from './policy-files.js';

/**
 * Holds the current policy set and reloads it when the files change. A reload parses, validates and compiles the
 * whole new set before swapping it in (one assignment: readers see the old set or the new one, never a mix);
 * an invalid change is refused and the last good set keeps serving. The store reads files, so it sits at the
 * edge of `policy/`; evaluation itself stays pure.
 */

export type ReloadEvent =
  | {
      readonly ok: true;
      readonly generation: number;
      readonly policies: number;
      readonly notes: readonly string[];
      readonly warnings: readonly PolicyIssue[];
    }
  | { readonly ok: false; readonly generation: number; readonly issues: readonly PolicyIssue[] };

export interface PolicyStoreOptions {
  readonly paths: readonly string[];
  readonly compile: CompileOptions;
  readonly watch: boolean;
  /** Told of every reload attempt after the initial load. */
  readonly onReload?: (event: ReloadEvent) => void;
  /** Quiet time after the last file event before reloading (editors write in several steps). Default 200 ms. */
  readonly debounceMs?: number;
}

export class PolicyStore {
  private set: PolicySet | null = null;
  private gen = 0;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private reloading: Promise<void> | null = null;
  private again = false;
  private closed = false;

  constructor(private readonly options: PolicyStoreOptions) {}

  get generation(): number {
    return this.gen;
  }

  current(): PolicySet | null {
    return this.set;
  }

  /** The initial load. Throws {@link PolicyLoadError} when any policy is invalid or unreadable. */
  async load(): Promise<PolicySet> {
    const { set, issues } = await this.build();
    if (set === null) {
      const unreadable = issues.some((i) => i.code === 'read_failed');
      throw new PolicyLoadError(unreadable ? 'unreadable' : 'invalid_policy', issues);
    }
    this.swap(set);
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
        const { set, issues, notes } = await this.build();
        if (this.closed) return;
        if (set === null) {
          this.options.onReload?.({ ok: false, generation: this.gen, issues });
        } else {
          this.swap(set);
          this.options.onReload?.({
            ok: true,
            generation: this.gen,
            policies: set.policies.length,
            notes,
            warnings: issues,
          });
        }
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

  private swap(set: PolicySet): void {
    this.set = set;
    this.gen = set.generation;
  }

  private async build(): Promise<{ set: PolicySet | null; issues: PolicyIssue[]; notes: string[] }> {
    const { policies, issues, notes } = await loadPolicyPaths(this.options.paths);
    if (issues.some((i) => i.severity === 'error')) return { set: null, issues, notes };
    return { set: compile(policies, this.options.compile, this.gen + 1), issues, notes };
  }
}

function compile(policies: LoadedPolicy[], options: CompileOptions, generation: number): PolicySet {
  return compilePolicySet(policies, options, generation);
}
