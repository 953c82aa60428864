#!/usr/bin/env node
// `npm start`: one gateway instance against REDIS_URL (default redis://127.0.0.1:6379), with a development
// JWT secret when none is configured. Production runs `npm run start:instance` with real configuration.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const env = { ...process.env };
if (!env.JWT_SECRET && !env.JWT_PUBLIC_KEY) {
  env.JWT_SECRET = 'herald-development-secret-change-me';
  console.error('[herald] JWT_SECRET not set: using the development secret "herald-development-secret-change-me"');
}
const child = spawn(process.execPath, [resolve(root, 'dist/apps/gateway/src/main.js')], { stdio: 'inherit', env });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
