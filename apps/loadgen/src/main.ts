/**
 * `npm run bench`: Herald against a bare socket.io baseline, same machine, same clients, same rates, interleaved.
 * See --help and docs/performance.md.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { HELP, OptionsError, parseLoadgenOptions, type LoadgenMode, type LoadgenOptions } from './config/loadgen-options.js';
import type { BenchReport, MachineInfo, RunResult } from './report/bench-report.js';
import { renderReportChart } from './report/report-chart.js';
import { renderMedians, renderRuns, renderSetups, renderSummary } from './report/report-table.js';
import { analyzeProfileFile, profileSession } from './profile/profile-run.js';
import { BenchSession, type Log } from './runner/bench-session.js';
import { summarizeLatencies, type LatencySummary } from './report/latency-stats.js';
import { compareSystems, ratePassed, saturationFromRuns, worthRetrying } from './runner/comparison.js';
import { SweepPlanner, type SweepStep, type SystemName } from './runner/sweep-planner.js';

function machineInfo(): MachineInfo {
  const cores = cpus();
  return {
    cpus: cores.length,
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    node: process.version,
    loadAverageAtStart: loadavg(),
  };
}

/** Settings worth keeping with the figures (never the JWT secret). */
function settingsOf(options: LoadgenOptions): Record<string, unknown> {
  const { jwtSecret: _secret, ...rest } = options;
  return rest;
}

function describeRun(run: RunResult): string {
  const verdict = run.passed ? 'pass' : `FAIL (${run.failures.join(', ')})`;
  return (
    `${run.system} @ ${run.rate}/s [${run.phase}${run.attempt > 1 ? `, attempt ${run.attempt}` : ''}]: ${run.deliveries.received}/${run.deliveries.expected} delivered, ` +
    `p50 ${run.latencyMs.p50.toFixed(2)} ms, p99 ${run.latencyMs.p99.toFixed(2)} ms, ${run.deliveriesPerSecond.toFixed(0)} deliveries/s: ${verdict}`
  );
}

interface StepRunner {
  steps: () => SweepStep | undefined;
  record?: (system: SystemName, step: SweepStep, passed: boolean) => void;
  /** Attempts more for a run that is worth retrying (comparison runs never are). */
  retries: number;
  maxP99Ms: number;
  /** A run's publishing time when not the default. */
  durationFor?: (step: SweepStep) => number | undefined;
  beforeRun?: (system: SystemName, step: SweepStep) => Promise<void>;
}

async function runSteps(session: BenchSession, log: Log, { steps, record, retries, maxP99Ms, durationFor, beforeRun }: StepRunner): Promise<RunResult[]> {
  const runs: RunResult[] = [];
  let reverse = false;
  for (let step = steps(); step; step = steps()) {
    // Alternate which system goes first, so neither always runs on a machine the other just warmed (or loaded).
    const order = reverse ? [...step.systems].reverse() : step.systems;
    reverse = !reverse;
    for (const system of order) {
      const attempts: RunResult[] = [];
      let run: RunResult;
      // A run that failed on latency alone may have met a burst of other work on the machine: it gets `retries`
      // more attempts. Loss and duplicates are never retried away, nor a system plainly falling behind.
      do {
        await beforeRun?.(system, step);
        run = await session.run(system, step.rate, step.phase, attempts.length + 1, durationFor?.(step));
        attempts.push(run);
        runs.push(run);
        log(describeRun(run));
      } while (worthRetrying(run, maxP99Ms) && attempts.length <= retries && step.phase !== 'compare');
      record?.(system, step, ratePassed(attempts));
    }
  }
  return runs;
}

async function benchmark(options: LoadgenOptions, log: Log): Promise<void> {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const report: BenchReport = {
    kind: 'herald-bench',
    version: 1,
    mode: options.mode,
    startedAt: startedAt.toISOString(),
    machine: machineInfo(),
    settings: settingsOf(options),
    setups: [],
    runs: [],
    saturation: [],
    comparison: {},
  };
  // Every delivery of the comparison runs, per system: the p99 at the compared rate is taken over all of them.
  const compareLatencies = new Map<SystemName, Float64Array[]>();
  const session = await BenchSession.open(options, log, {
    latencies: (run, chunks) => {
      if (run.phase === 'compare') compareLatencies.set(run.system, [...(compareLatencies.get(run.system) ?? []), ...chunks]);
    },
  });
  try {
    report.setups = session.setups;
    if (options.warmupSeconds > 0) {
      // Both systems start cold: without this, whichever runs first pays for the JIT (and the young generation
      // growing to its working size) inside a measured run.
      const rate = options.mode === 'sweep' ? options.startRate : Math.min(...options.rates);
      report.warmups = [];
      for (const system of options.systems) {
        const run = await session.run(system, rate, 'warmup', 1, options.warmupSeconds);
        report.warmups.push(run);
        log(`warm-up, not reported: ${describeRun(run)}`);
      }
    }
    if (options.mode === 'sweep') {
      const planner = new SweepPlanner({
        startRate: options.startRate,
        factor: options.rateFactor,
        maxRate: options.maxRate,
        refineSteps: options.refineSteps,
        compareRepeats: options.compareRepeats,
        systems: options.systems,
      });
      report.runs = await runSteps(session, log, {
        steps: () => planner.next(),
        record: (system, step, passed) => planner.record(system, step.rate, passed, step.phase),
        retries: options.retries,
        maxP99Ms: options.maxP99Ms,
        durationFor: (step) => (step.phase === 'compare' ? options.compareDurationSeconds : undefined),
        // The comparison is of a sustained rate. Right after the overload runs, or after sitting idle through the
        // other system's turn, a system's first seconds carry a collection of the overload's garbage and a young
        // generation regrowing (docs/performance.md): both systems settle before every comparison run.
        beforeRun: async (system, step) => {
          if (step.phase !== 'compare' || options.compareSettleSeconds <= 0) return;
          await session.collectGarbage(system);
          const run = await session.run(system, step.rate, 'settle', 1, options.compareSettleSeconds);
          (report.warmups ??= []).push(run);
          log(`settle, not reported: ${describeRun(run)}`);
        },
      });
    } else {
      const rates = options.rates.flatMap((rate) => Array.from({ length: options.repeat }, () => rate));
      report.runs = await runSteps(session, log, {
        steps: () => {
          const rate = rates.shift();
          return rate === undefined ? undefined : { rate, systems: options.systems, phase: 'fixed' };
        },
        retries: 0,
        maxP99Ms: options.maxP99Ms,
      });
    }
  } finally {
    await session.close();
  }
  report.saturation = options.systems.map((system) => saturationFromRuns(system, report.runs));
  const pooled: Partial<Record<SystemName, LatencySummary>> = {};
  for (const [system, chunks] of compareLatencies) pooled[system] = summarizeLatencies(chunks);
  report.comparison = compareSystems(report.saturation, report.runs, report.setups, pooled);
  report.finishedAt = new Date().toISOString();
  report.machine.loadAverageAtEnd = loadavg();

  await mkdir(options.outDir, { recursive: true });
  const chartFile = join(options.outDir, `${stamp}-${options.mode}.svg`);
  await writeFile(chartFile, renderReportChart(report));
  report.chartFile = chartFile;
  const jsonFile = options.jsonFile ?? join(options.outDir, `${stamp}-${options.mode}.json`);
  await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`);

  const medians = options.mode === 'fixed' && options.repeat > 1 ? `\n\n${renderMedians(report.runs)}` : '';
  process.stdout.write(`\n${renderSetups(report.setups)}\n\n${renderRuns(report.runs)}${medians}\n\n${renderSummary(report)}\n`);
  process.stdout.write(`\nreport: ${jsonFile}\nchart: ${chartFile}\n`);
}

async function main(): Promise<number> {
  let options: LoadgenOptions;
  try {
    options = parseLoadgenOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof OptionsError) {
      process.stderr.write(`${error.message}\n`);
      return 64; // EX_USAGE
    }
    throw error;
  }
  const log: Log = options.quiet ? () => undefined : (line) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  switch (options.mode) {
    case 'help':
      process.stdout.write(HELP);
      return 0;
    case 'chart': {
      const source = modeFile(options.mode, options.chartFrom);
      const report = JSON.parse(await readFile(source, 'utf8')) as BenchReport;
      const file = source.replace(/\.json$/, '') + '.svg';
      await writeFile(file, renderReportChart(report));
      process.stdout.write(`chart: ${file}\n`);
      return 0;
    }
    case 'analyze': {
      const file = modeFile(options.mode, options.analyzeFile);
      process.stdout.write(`${analyzeProfileFile(file, await readFile(file, 'utf8'))}\n`);
      return 0;
    }
    case 'profile':
      await profileSession(options, log);
      return 0;
    case 'sweep':
    case 'fixed':
      await benchmark(options, log);
      return 0;
  }
}

/** The file argument of --chart / --analyze: parseLoadgenOptions sets it whenever it picks that mode. */
function modeFile(mode: LoadgenMode, file: string | undefined): string {
  if (file === undefined) throw new Error(`${mode} mode without its file argument`);
  return file;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
