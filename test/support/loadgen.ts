import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchReport } from '../../apps/loadgen/src/report/bench-report.js';
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

/** A smoke run of the harness, its report read back; close() removes its output folder. */
export interface BenchSmokeRun {
  readonly dir: string;
  readonly stdout: string;
  readonly report: BenchReport;
  close(): Promise<void>;
}

/**
 * Runs the harness with a few clients for a smoke test (it is not a benchmark): `args` say what to run; 2 instances
 * and 2 workers, no latency limit (a busy CI machine must not fail a run on speed), JSON report in a temporary folder.
 */
export async function runBenchSmoke(args: readonly string[], size: { connections: number; users: number }): Promise<BenchSmokeRun> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
  const close = (): Promise<void> => rm(dir, { recursive: true, force: true });
  const outcome = await runLoadgen([
    ...args,
    ...['--instances', '2', '--workers', '2', '--connections', String(size.connections), '--users', String(size.users)],
    ...['--max-p99', '10000', '--out', dir, '--json', join(dir, 'report.json'), '--quiet'],
  ]);
  if (outcome.code !== 0) {
    await close();
    throw new Error(`bench exited ${String(outcome.code)}:\n${outcome.stderr}\n${outcome.stdout}`);
  }
  return { dir, stdout: outcome.stdout, report: JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as BenchReport, close };
}
