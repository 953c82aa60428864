import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The checkout's root: the nearest folder above this module (source or dist/) with package.json. */
function findRepoRoot(start: string): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
}

export const REPO_ROOT = findRepoRoot(import.meta.dirname);
