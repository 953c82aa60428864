import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { REPO_ROOT } from './paths.js';

export const LOADGEN_MAIN = resolve(REPO_ROOT, 'dist/apps/loadgen/src/main.js');

export interface LoadgenOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the benchmark harness (`npm run bench` without the build) to completion; kills it after `timeoutMs`. */
export async function runLoadgen(args: readonly string[], timeoutMs = 120_000): Promise<LoadgenOutcome> {
  const child = spawn(process.execPath, [LOADGEN_MAIN, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (process.env['HERALD_TEST_VERBOSE']) process.stderr.write(`[loadgen] ${chunk.toString()}`);
  });
  const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
