/**
 * `npm run bench`: Herald against bare socket.io baselines, same machine, same clients, same rates, interleaved:
 * sweeps, fixed rates, reconnect storms, scaling with the instance count. See --help and docs/performance.md.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { HELP, OptionsError, parseLoadgenOptions, type LoadgenMode, type LoadgenOptions } from './config/loadgen-options.js';
import type { BenchReport, MachineInfo, RunResult, ScalingSession } from './report/bench-report.js';
import { renderReportChart } from './report/report-chart.js';
import { renderMedians, renderRedis, renderRuns, renderScaling, renderSetups, renderStorms, renderSummary } from './report/report-table.js';
import { analyzeProfileFile, profileSession } from './profile/profile-run.js';
import { BenchSession, type Log } from './runner/bench-session.js';
import { summarizeLatencies, type LatencySummary } from './report/latency-stats.js';
import { compareSystems, ratePassed, saturationFromRuns, worthRetrying } from './runner/comparison.js';
import { summarizeScaling } from './runner/scaling.js';
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
  /** How a step's run is made when not the plain `session.run` (storms). */
  run?: (system: SystemName, step: SweepStep) => Promise<RunResult>;
  afterStep?: (step: SweepStep) => void;
}

async function runSteps(
  session: BenchSession,
  log: Log,
  { steps, record, retries, maxP99Ms, durationFor, beforeRun, run: runStep, afterStep }: StepRunner,
): Promise<RunResult[]> {
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
        run = runStep ? await runStep(system, step) : await session.run(system, step.rate, step.phase, attempts.length + 1, durationFor?.(step));
        attempts.push(run);
        runs.push(run);
        log(describeRun(run));
      } while (worthRetrying(run, maxP99Ms) && attempts.length <= retries && step.phase !== 'compare');
      record?.(system, step, ratePassed(attempts));
    }
    afterStep?.(step);
  }
  return runs;
}

function newReport(options: LoadgenOptions, startedAt: Date): BenchReport {
  return {
    kind: 'herald-bench',
    version: 1,
    mode: options.mode,
    startedAt: startedAt.toISOString(),
    machine: machineInfo(),
    settings: settingsOf(options),
    setups: [],
    runs: [],
    saturation: [],
    comparison: { pairs: [], zeroLossUpToSaturation: {}, targets: [] },
  };
}

/** Unreported load for every system at `rate`, so no system's first measured run pays for JIT compilation. */
async function warmUp(session: BenchSession, options: LoadgenOptions, report: BenchReport, log: Log, rate: number): Promise<void> {
  if (options.warmupSeconds <= 0) return;
  report.warmups ??= [];
  for (const system of options.systems) {
    const run = await session.run(system, rate, 'warmup', 1, options.warmupSeconds);
    report.warmups.push(run);
    log(`warm-up, not reported: ${describeRun(run)}`);
  }
}

/** What each system keeps in its Redis now (every key's MEMORY USAGE), into the report. */
async function measureStorage(session: BenchSession, options: LoadgenOptions, report: BenchReport, log: Log): Promise<void> {
  report.redisStorage ??= {};
  for (const system of options.systems) {
    const storage = await session.redisStorage(system).catch((error: unknown) => {
      log(`${system}: could not read Redis storage: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    });
    if (storage) report.redisStorage[system] = storage;
  }
}

/** Writes the JSON report and the chart, then prints the tables (rendered last, so they see the finished report). */
async function writeReport(options: LoadgenOptions, report: BenchReport, stamp: string, tables: () => string[]): Promise<void> {
  report.finishedAt = new Date().toISOString();
  report.machine.loadAverageAtEnd = loadavg();
  await mkdir(options.outDir, { recursive: true });
  const chartFile = join(options.outDir, `${stamp}-${options.mode}.svg`);
  if (report.runs.length > 0) {
    await writeFile(chartFile, renderReportChart(report));
    report.chartFile = chartFile;
  }
  const jsonFile = options.jsonFile ?? join(options.outDir, `${stamp}-${options.mode}.json`);
  await writeFile(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${tables().join('\n\n')}\n`);
  process.stdout.write(`\nreport: ${jsonFile}\n${report.chartFile ? `chart: ${report.chartFile}\n` : ''}`);
}

async function benchmark(options: LoadgenOptions, log: Log): Promise<void> {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const report = newReport(options, startedAt);
  // Every delivery of the comparison runs, per system: the p99 at the compared rate is taken over all of them.
  const compareLatencies = new Map<SystemName, Float64Array[]>();
  const session = await BenchSession.open(options, log, {
    latencies: (run, chunks) => {
      if (run.phase === 'compare') compareLatencies.set(run.system, [...(compareLatencies.get(run.system) ?? []), ...chunks]);
    },
  });
  try {
    report.setups = session.setups;
    // Both systems start cold: without this, whichever runs first pays for the JIT (and the young generation
    // growing to its working size) inside a measured run.
    await warmUp(session, options, report, log, options.mode === 'sweep' ? options.startRate : Math.min(...options.rates));
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
        // other systems' turns, a system's first seconds carry a collection of the overload's garbage and a young
        // generation regrowing (docs/performance.md): every system settles before every comparison run.
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
    await measureStorage(session, options, report, log);
  } finally {
    await session.close();
  }
  report.saturation = options.systems.map((system) => saturationFromRuns(system, report.runs));
  const pooled: Partial<Record<SystemName, LatencySummary>> = {};
  for (const [system, chunks] of compareLatencies) pooled[system] = summarizeLatencies(chunks);
  report.comparison = compareSystems(report.saturation, report.runs, report.setups, pooled);

  const medians = options.mode === 'fixed' && options.repeat > 1 ? [renderMedians(report.runs)] : [];
  await writeReport(options, report, stamp, () => [
    renderSetups(report.setups),
    renderRuns(report.runs),
    ...medians,
    renderRedis(report.runs, report.redisStorage),
    renderSummary(report),
  ]);
}

/** How long to wait after a storm run for the system's clients to be all back before the next run. */
const STORM_AFTERMATH_MS = 120_000;

/**
 * `--storm`: at a steady rate, every client of one instance reconnects at once, each to another instance, while
 * publishing goes on; --repeat storms per system, interleaved, storm k on instance k mod N (after a storm the
 * stormed instance holds none of the clients, so the next storm moves the ones that are left elsewhere).
 */
async function stormBenchmark(options: LoadgenOptions, log: Log): Promise<void> {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const report = newReport(options, startedAt);
  if (options.instances < 2) throw new Error('a storm needs at least two instances (--instances)');
  const rate = options.rates[0];
  const session = await BenchSession.open(options, log);
  try {
    report.setups = session.setups;
    await warmUp(session, options, report, log, rate);
    let storms = 0;
    report.runs = await runSteps(session, log, {
      steps: () => (storms < options.repeat ? { rate, systems: options.systems, phase: 'storm' } : undefined),
      record: () => undefined,
      retries: 0,
      maxP99Ms: options.maxP99Ms,
      run: async (system, step) => {
        const instanceIndex = storms % options.instances;
        const run = await session.run(system, step.rate, 'storm', 1, options.durationSeconds, { ...options.storm, instanceIndex });
        if (options.storm.kind === 'kill') await session.restartInstance(system, instanceIndex);
        // Clients still away keep their system busy (retries, replays): the next run must not share the machine with that.
        if (run.storm) {
          run.storm.allBackAfterRunSeconds = await session.waitAllConnected(system, STORM_AFTERMATH_MS);
          log(
            `${system}: ${run.storm.allBackAfterRunSeconds === undefined ? `clients still away ${STORM_AFTERMATH_MS / 1000} s after the run` : `all clients back ${run.storm.allBackAfterRunSeconds.toFixed(1)} s after the run`}`,
          );
        }
        return run;
      },
      afterStep: () => storms++,
    });
    await measureStorage(session, options, report, log);
  } finally {
    await session.close();
  }
  report.saturation = [];
  report.comparison = compareSystems([], report.runs, report.setups);
  const herald = report.runs.filter((run) => run.system === 'herald');
  if (herald.length > 0) {
    report.comparison.targets.push({
      target: 'reconnect storm: Herald loses 0 (and duplicates 0)',
      met: herald.every((run) => run.deliveries.lost === 0 && run.deliveries.duplicates === 0),
      detail: `${herald.length} storms, ${herald.reduce((sum, run) => sum + run.deliveries.lost, 0)} lost, ${herald.reduce((sum, run) => sum + run.deliveries.duplicates, 0)} duplicated`,
    });
  }
  await writeReport(options, report, stamp, () => [
    renderSetups(report.setups),
    renderRuns(report.runs),
    renderStorms(report.runs),
    renderRedis(report.runs, report.redisStorage),
    renderSummary(report),
  ]);
}

/** The durable-delivery issue's scaling target: Herald's cluster CPU per notification with the most instances over the fewest. */
const SCALING_TARGET = 1.25;

/**
 * `--scaling 1,4`: one session per instance count, in the order given, with the same connections, users and rate;
 * --repeat interleaved runs per system in each. Cluster CPU per notification is every instance's CPU over a run
 * divided by the notifications published.
 */
async function scalingBenchmark(options: LoadgenOptions, log: Log): Promise<void> {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const report = newReport(options, startedAt);
  const rate = options.rates[0];
  const sessions: ScalingSession[] = [];
  for (const instances of options.scalingInstances) {
    log(`scaling: session with ${instances} instance(s) per system`);
    const sessionOptions: LoadgenOptions = { ...options, instances };
    const session = await BenchSession.open(sessionOptions, log);
    const entry: ScalingSession = { instances, setups: session.setups, runs: [] };
    try {
      await warmUp(session, sessionOptions, report, log, rate);
      let left = options.repeat;
      entry.runs = await runSteps(session, log, {
        steps: () => (left-- > 0 ? { rate, systems: options.systems, phase: 'scaling' } : undefined),
        retries: 0,
        maxP99Ms: options.maxP99Ms,
      });
      await measureStorage(session, sessionOptions, report, log);
    } finally {
      await session.close();
    }
    sessions.push(entry);
    report.runs.push(...entry.runs);
  }
  report.scaling = sessions;
  report.scalingSummary = summarizeScaling(sessions);
  report.setups = sessions.flatMap((session) => session.setups);
  report.comparison = compareSystems([], report.runs, []);
  for (const summary of report.scalingSummary) {
    if (summary.system !== 'herald' || summary.ratio === undefined) continue;
    const first = summary.points[0];
    const last = summary.points[summary.points.length - 1];
    report.comparison.targets.push({
      target: `cluster CPU per notification, ${last.instances} instances <= ${SCALING_TARGET} x ${first.instances}`,
      met: summary.ratio <= SCALING_TARGET,
      detail: `${last.clusterCpuUsPerNotification.toFixed(0)} / ${first.clusterCpuUsPerNotification.toFixed(0)} us = ${summary.ratio.toFixed(2)}`,
    });
  }
  const scaling = report.scalingSummary;
  await writeReport(options, report, stamp, () => [renderRuns(report.runs), renderScaling(scaling), renderRedis(report.runs), renderSummary(report)]);
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
  // The instances run on this Node too; on an older one the request-scoped logger's AsyncLocalStorage runs on promise
  // hooks, work on every promise that Node 24 does not do (docs/performance.md, phase 11).
  if (Number(process.versions.node.split('.')[0]) < 24) {
    process.stderr.write(`warning: Node ${process.version}, not the project's Node 24: run it as \`npm run bench\`; figures from another Node are not comparable\n`);
  }
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
    case 'storm':
      await stormBenchmark(options, log);
      return 0;
    case 'scaling':
      await scalingBenchmark(options, log);
      return 0;
  }
}

/** The file argument of --chart / --analyze: parseLoadgenOptions sets it whenever it picks that mode. */
function modeFile(mode: LoadgenMode, file: string | undefined): string {
  if (file === undefined) throw new Error(`${mode} mode without its file argument`);
  return file;
}

// Ctrl-C or a timeout's SIGTERM: stop every server, Redis and client worker this run started before exiting.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping what it started\n`);
    void Promise.allSettled([...BenchSession.live].map((session) => session.close())).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
