import { execFile } from 'node:child_process';

export interface PromtoolResult {
  code: number;
  /** stdout and stderr together: promtool prints its verdicts to both. */
  output: string;
}

/** Runs Debian's `promtool` and returns its exit code and output; never rejects on a non-zero exit. */
export async function promtool(args: readonly string[], cwd?: string): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    execFile('promtool', [...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`promtool ${args.join(' ')} could not run: ${error.message}`));
        return;
      }
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, output: `${stdout}${stderr}` });
    });
  });
}

export interface PromtoolAlertFailure {
  test: string;
  alertname: string;
  time: string;
  /** The test expected no alert at that time. */
  expectedNone: boolean;
}

/** The failed alert evaluations `promtool test rules` reports, one per `name: ..., alertname: ..., time: ...` block. */
export function promtoolAlertFailures(output: string): PromtoolAlertFailure[] {
  const failures: PromtoolAlertFailure[] = [];
  const block = /name: (.+),\s*\n\s*alertname: (\S+), time: (\S+),\s*\n\s*exp:(\[\])?/g;
  for (const match of output.matchAll(block)) {
    failures.push({ test: match[1], alertname: match[2], time: match[3], expectedNone: match.at(4) !== undefined });
  }
  return failures;
}
