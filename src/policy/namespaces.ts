import { type CompiledPolicy, compilePolicy } from './compile.js';
import type { LoadedPolicy } from './model.js';
import type { ResolvedCompileOptions } from './options.js';
import type { Yielder } from './set.js';

const NONE: readonly never[] = Object.freeze([]);

/** One namespace's policies, in the order the set was given them, and their compiled forms once made. */
interface Group {
  loaded: LoadedPolicy[];
  /** Compiled forms known before first use (reused from the previous set or compiled during a sliced reload). */
  known: (CompiledPolicy | undefined)[];
  compiled: readonly CompiledPolicy[] | null;
}

/**
 * A set's policies grouped by namespace, each namespace compiled the first time a Check (or an explanation) needs
 * it. A load then only groups the policies (no sort of the whole set, no closures for the 10k rules of namespaces
 * no request has reached yet); the namespace a request reaches costs one compile of its own policies, once, as its
 * plans already do. Compilation is a pure function of the policy and the options, so when it happens does not
 * change a decision. Within a namespace the order is by name (the set's order: root namespace first, then
 * namespace, then name).
 */
export class NamespaceGroups {
  private readonly groups = new Map<string, Group>();

  constructor(
    policies: readonly LoadedPolicy[],
    private readonly options: ResolvedCompileOptions,
    known: ReadonlyMap<LoadedPolicy, CompiledPolicy> | null,
  ) {
    for (const p of policies) {
      const ns = p.policy.metadata.namespace;
      let group = this.groups.get(ns);
      if (group === undefined) {
        group = { loaded: [], known: [], compiled: null };
        this.groups.set(ns, group);
      }
      group.loaded.push(p);
      group.known.push(known?.get(p));
    }
  }

  /** The namespace's compiled policies in order (compiled now if this is the first time they are needed). */
  compiled(namespace: string): readonly CompiledPolicy[] {
    const group = this.groups.get(namespace);
    if (group === undefined) return NONE;
    if (group.compiled === null) {
      group.compiled = this.compile(group);
      // Only the compiled list is read from now on.
      group.loaded = [];
      group.known = [];
    }
    return group.compiled;
  }

  /** Every compiled form this set holds so far (compiled here or known from before): what a next set may reuse. */
  *compiledSoFar(): Iterable<CompiledPolicy> {
    for (const group of this.groups.values()) {
      if (group.compiled !== null) yield* group.compiled;
      else for (const c of group.known) if (c !== undefined) yield c;
    }
  }

  /**
   * Compiles what is not compiled yet, one policy at a time, asking `yielder` after each (a server warms its set up
   * in the background once it serves, so a first request rarely pays for its namespace). Stops when `stop()` says so.
   */
  async warm(yielder: Yielder, stop: () => boolean): Promise<void> {
    for (const group of this.groups.values()) {
      // A group compiled meanwhile (a request needed it) has emptied its lists: the loop ends.
      for (let i = 0; i < group.loaded.length; i++) {
        if (stop()) return;
        group.known[i] ??= compilePolicy(group.loaded[i]!, this.options);
        const pause = yielder();
        if (pause !== undefined) await pause;
      }
    }
  }

  private compile(group: Group): readonly CompiledPolicy[] {
    const order = group.loaded.map((_, i) => i);
    // Names are unique within a namespace (every loader refuses a duplicate: parse.ts DuplicateFinder), so the
    // comparator never meets two equal names and needs no answer for them.
    order.sort((a, b) => (group.loaded[a]!.policy.metadata.name < group.loaded[b]!.policy.metadata.name ? -1 : 1));
    return order.map((i) => group.known[i] ?? compilePolicy(group.loaded[i]!, this.options));
  }
}
