#!/usr/bin/env node
// Part of `npm run build`: bundles the demo page (apps/demo) and @herald/client for the browser into dist/demo/, which
// nginx serves at /demo/ (docs/operations.md). tsc has already type-checked it (apps/demo/tsconfig.json).
import { cpSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const out = resolve(root, 'dist/demo');
mkdirSync(out, { recursive: true });
cpSync(resolve(root, 'apps/demo/public'), out, { recursive: true });
await build({
  entryPoints: [resolve(root, 'apps/demo/src/demo-page.ts')],
  outfile: resolve(out, 'demo.js'),
  tsconfig: resolve(root, 'apps/demo/tsconfig.json'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
const kib = (statSync(resolve(out, 'demo.js')).size / 1024).toFixed(1);
console.log(`[herald] demo page bundled: dist/demo/demo.js (${kib} KiB)`);
