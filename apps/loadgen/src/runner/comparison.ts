import type { Comparison, RunResult, SetupFigures, SystemSaturation } from '../report/bench-report.js';
import { median, type LatencySummary } from '../report/latency-stats.js';
import { SYSTEM_NAMES, type SystemName } from './sweep-planner.js';

const mean = (values: Array<number | undefined>): number | undefined => {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length > 0 ? known.reduce((sum, value) => sum + value, 0) / known.length : undefined;
};

/** Loss, duplicates, refused or dropped clients: failures that no amount of machine noise explains. */
export function failedOnDelivery(run: RunResult): boolean {
  const { deliveries, connections } = run;
  return (
    deliveries.lost > 0 ||
    deliveries.duplicates > 0 ||
    deliveries.misdelivered > 0 ||
    connections.disconnects > 0 ||
    connections.connectedAtStart < connections.expected ||
    run.publishErrors > 0 ||
    (run.published > 0 && deliveries.expected === 0)
  );
}

const HOPELESS_P99_FACTOR = 5;

/**
 * Whether a run that failed gets another attempt: only one that failed on latency alone, and not by so much that no
 * burst of other work on the machine explains it (a p99 many times the limit is the system falling behind).
 */
export function worthRetrying(run: RunResult, maxP99Ms: number): boolean {
  return !run.passed && !failedOnDelivery(run) && run.latencyMs.p99 < HOPELESS_P99_FACTOR * maxP99Ms;
}

/** A rate passes when some attempt passed and no attempt lost or duplicated anything. */
export function ratePassed(attempts: readonly RunResult[]): boolean {
  return attempts.some((run) => run.passed) && !attempts.some(failedOnDelivery);
}

/** Highest rate at which this and every lower rate passed (runs at a fixed list of rates, or any sweep). */
export function saturationFromRuns(system: SystemName, runs: readonly RunResult[]): SystemSaturation {
  const own = runs.filter((run) => run.system === system && run.phase !== 'compare');
  const rates = [...new Set(own.map((run) => run.rate))].sort((a, b) => a - b);
  let rate: number | undefined;
  for (const candidate of rates) {
    if (!ratePassed(own.filter((run) => run.rate === candidate))) return { system, rate, lowerBound: false };
    rate = candidate;
  }
  return { system, rate, lowerBound: true };
}

/**
 * Herald/baseline ratios for the targets. `pooled` holds, per system, the latencies of all its comparison
 * runs' deliveries together: the p99 at the compared rate is theirs when given, else the median of the runs' p99s.
 */
export function compareSystems(
  saturation: readonly SystemSaturation[],
  runs: readonly RunResult[],
  setups: readonly SetupFigures[],
  pooled: Partial<Record<SystemName, LatencySummary>> = {},
): Comparison {
  const find = (system: SystemName) => saturation.find((entry) => entry.system === system);
  const herald = find('herald');
  const baseline = find('baseline');
  if (!herald || !baseline) return {};
  const comparison: Comparison = {};
  // Two lower bounds (neither system failed) say nothing about which saturates first.
  const bothUnbounded = herald.lowerBound && baseline.lowerBound;
  if (herald.rate !== undefined && baseline.rate !== undefined && !bothUnbounded) comparison.saturationRatio = herald.rate / baseline.rate;

  const compareRuns = runs.filter((run) => run.phase === 'compare');
  const atHalf = (system: SystemName) => compareRuns.filter((run) => run.system === system);
  if (atHalf('herald').length > 0 && atHalf('baseline').length > 0) {
    comparison.halfBaselineRate = compareRuns[0].rate;
    // A single run's p99 is at the mercy of whatever else the 2-core machine did in those seconds: it either
    // caught a burst of scheduling delay or did not. The p99 of all the interleaved runs' deliveries together weighs
    // every delivery once, for both systems alike; the median and best of the runs' own p99s are kept too.
    const p99s = (system: SystemName): number[] => atHalf(system).map((run) => run.latencyMs.p99);
    const medianOfRuns = { herald: median(p99s('herald')), baseline: median(p99s('baseline')) };
    const heraldPooled = pooled.herald?.p99;
    const baselinePooled = pooled.baseline?.p99;
    const usePooled = heraldPooled !== undefined && baselinePooled !== undefined;
    const herald = usePooled ? heraldPooled : medianOfRuns.herald;
    const baseline = usePooled ? baselinePooled : medianOfRuns.baseline;
    comparison.p99AtHalfBaselineMs = {
      herald,
      baseline,
      ratio: herald / baseline,
      over: usePooled ? 'all deliveries' : 'median of runs',
      runsPerSystem: Math.min(p99s('herald').length, p99s('baseline').length),
      medianOfRuns,
      best: { herald: Math.min(...p99s('herald')), baseline: Math.min(...p99s('baseline')) },
    };
    const cpu = (system: SystemName): number | undefined => mean(atHalf(system).flatMap((run) => run.instances.map((instance) => instance.cpuSecondsPer10kDeliveries)));
    const heraldCpu = cpu('herald');
    const baselineCpu = cpu('baseline');
    if (heraldCpu !== undefined && baselineCpu !== undefined) {
      comparison.cpuSecondsPer10kAtHalfBaseline = { herald: heraldCpu, baseline: baselineCpu, ratio: heraldCpu / baselineCpu };
    }
  }
  // RSS is the figure; the V8 heap retained after a full GC is the steadier one (RSS moves with the allocator).
  const perConnection = (pick: (setup: SetupFigures) => number | undefined) => {
    const herald = setups.find((setup) => setup.system === 'herald');
    const baseline = setups.find((setup) => setup.system === 'baseline');
    const heraldKb = herald && pick(herald);
    const baselineKb = baseline && pick(baseline);
    return heraldKb !== undefined && baselineKb !== undefined ? { herald: heraldKb, baseline: baselineKb, ratio: heraldKb / baselineKb } : undefined;
  };
  comparison.rssKbPerConnection = perConnection((setup) => setup.rssKbPerConnection);
  comparison.heapKbPerConnection = perConnection((setup) => setup.heapKbPerConnection);
  const zeroLoss = SYSTEM_NAMES.every((system) => {
    const limit = find(system)?.rate ?? 0;
    return runs.filter((run) => run.system === system && run.rate <= limit).every((run) => run.deliveries.lost === 0 && run.deliveries.duplicates === 0);
  });
  comparison.targetsMet = {
    // Herald must not fail below a rate the baseline sustained; a baseline that never failed cannot be beaten on this.
    saturation: bothUnbounded
      ? undefined
      : herald.rate !== undefined && (baseline.rate === undefined || (herald.rate >= baseline.rate && !(baseline.lowerBound && !herald.lowerBound))),
    p99AtHalfBaseline: comparison.p99AtHalfBaselineMs ? comparison.p99AtHalfBaselineMs.herald <= comparison.p99AtHalfBaselineMs.baseline : undefined,
    memoryPerConnection: comparison.rssKbPerConnection ? comparison.rssKbPerConnection.herald <= comparison.rssKbPerConnection.baseline : undefined,
    heapPerConnection: comparison.heapKbPerConnection ? comparison.heapKbPerConnection.herald <= comparison.heapKbPerConnection.baseline : undefined,
    zeroLossUpToSaturation: zeroLoss,
  };
  return comparison;
}
