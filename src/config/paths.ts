import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/**
 * The installed package's root (the folder holding `package.json` and `protos/`), found by walking up from this
 * module: the same code runs from `src/` under Vitest and from `dist/src/` when built.
 */
export function packageRoot(): string {
  if (cached !== null) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'protos'))) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('mesh-authz: cannot find the package root (package.json beside protos/)');
    dir = parent;
  }
}

export const protosDir = (): string => join(packageRoot(), 'protos');
