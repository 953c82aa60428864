#!/usr/bin/env node
// Runs before `npm start` / `npm test` with whatever Node the machine has: installs the project's
// dependencies (including the pinned Node 24 from the `node` package) when they are missing or stale.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const installed = resolve(root, 'node_modules/.package-lock.json');
const lock = resolve(root, 'package-lock.json');
const pinnedNode = resolve(root, 'node_modules/.bin/node');

const stale = !existsSync(installed) || !existsSync(pinnedNode) || statSync(lock).mtimeMs > statSync(installed).mtimeMs;
if (stale) {
  console.error('[herald] installing dependencies (npm ci)...');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}

// Tools (`npm run notify`, ...) only need a build to exist; `npm start` and `npm test` always rebuild.
if (process.argv.includes('--build-if-missing') && !existsSync(resolve(root, 'dist/apps/cli/src/main.js'))) {
  execSync('npm run build --silent', { cwd: root, stdio: 'inherit' });
}
