#!/usr/bin/env node
// `npm run start:instance`: one gateway from the existing build, never building. A process manager restarts an
// instance with it while other instances of the same checkout run from dist/: rebuilding here (rm -rf dist, tsc)
// took 15 s per restart and pulled dist/ from under them. Build once, explicitly (`npm run build`), then start.
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const main = resolve(root, 'dist/apps/gateway/src/main.js');

if (!existsSync(main)) {
  console.error(
    `[herald] start:instance: no build (${relative(root, main)} is missing). Build once with \`npm run build\`, then start ` +
      'instances: start:instance never builds, so restarting one instance cannot touch the others (docs/operations.md).',
  );
  process.exit(78); // EX_CONFIG: nothing a restart can fix; a process manager should not loop on it.
}
await import(pathToFileURL(main).href);
