import type { Comparison, PairComparison, RunResult, SetupFigures, SystemSaturation } from '../report/bench-report.js';
import { median, type LatencySummary } from '../report/latency-stats.js';
import { referenceSystem, type SystemName } from './sweep-planner.js';

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
/** Cores of other work on the machine (outside the session's processes) above which a run counts as disturbed. */
export const DISTURBED_OTHER_CORES = 0.25;

/**
 * Whether a run that failed gets another attempt: only one that failed on latency alone, and not by so much that no
 * burst of other work on the machine explains it (a p99 many times the limit is the system falling behind), unless
 * other work on the shared machine measurably competed with it (then any latency failure is retried).
 */
export function worthRetrying(run: RunResult, maxP99Ms: number): boolean {
  const disturbed = (run.machine?.otherCores ?? 0) > DISTURBED_OTHER_CORES;
  return !run.passed && !failedOnDelivery(run) && (run.latencyMs.p99 < HOPELESS_P99_FACTOR * maxP99Ms || disturbed);
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
 * What Herald must achieve against each other system (docs/performance.md), as factors of that system's figure:
 * saturation >= factor x theirs, p99 at the compared rate and memory per idle connection <= factor x theirs.
 * `local` and `streams`: the durable-delivery issue (phase 6); `baseline`: issue 6 (phases 1-5); `previous` (Herald
 * before durable delivery): RSS per idle connection no more than 10 % above it.
 */
export interface TargetRule {
  saturationAtLeast?: number;
  p99AtMost?: number;
  rssAtMost?: number;
  heapAtMost?: number;
}

export const TARGET_RULES: Partial<Record<SystemName, TargetRule>> = {
  local: { saturationAtLeast: 0.8, p99AtMost: 1.2 },
  streams: { saturationAtLeast: 1, p99AtMost: 1 },
  baseline: { saturationAtLeast: 1, p99AtMost: 1, rssAtMost: 1, heapAtMost: 1 },
  previous: { rssAtMost: 1.1 },
};

/** Herald with clients acknowledging delivery against Herald without (issue 13). */
export const ACKS_SATURATION_AT_LEAST = 0.9;

/**
 * Whether Herald's saturation is at least `factor` times the other's. A saturation that never failed is only a lower
 * bound: two of them rank nothing, and against an unbounded other only a clear miss can be called.
 */
export function saturationMet(herald: SystemSaturation, other: SystemSaturation, factor: number): boolean | undefined {
  if (herald.lowerBound && other.lowerBound) return undefined;
  if (herald.rate === undefined) return false;
  if (other.rate === undefined) return true;
  const met = herald.rate >= factor * other.rate;
  if (other.lowerBound && !herald.lowerBound) return met ? undefined : false;
  return met;
}

/**
 * Herald against every other system of the run, and the verdicts on the targets. `pooled` holds, per system, the
 * latencies of all its comparison runs' deliveries together: the p99 at the compared rate is theirs when given,
 * else the median of the runs' p99s.
 */
export function compareSystems(
  saturation: readonly SystemSaturation[],
  runs: readonly RunResult[],
  setups: readonly SetupFigures[],
  pooled: Partial<Record<SystemName, LatencySummary>> = {},
): Comparison {
  const systems = saturation.map((entry) => entry.system);
  const comparison: Comparison = { reference: referenceSystem(systems), pairs: [], zeroLossUpToSaturation: {}, targets: [] };
  for (const entry of saturation) {
    const limit = entry.rate ?? 0;
    comparison.zeroLossUpToSaturation[entry.system] = runs
      .filter((run) => run.system === entry.system && run.rate <= limit && run.phase !== 'storm')
      .every((run) => run.deliveries.lost === 0 && run.deliveries.duplicates === 0);
  }
  const herald = saturation.find((entry) => entry.system === 'herald');
  if (!herald) return comparison;
  if (comparison.zeroLossUpToSaturation.herald !== undefined) {
    comparison.targets.push({
      target: 'herald: zero lost, zero duplicated up to its saturation',
      met: comparison.zeroLossUpToSaturation.herald,
      detail: `${runs.filter((run) => run.system === 'herald' && run.rate <= (herald.rate ?? 0)).length} runs`,
    });
  }
  const withAcks = saturation.find((entry) => entry.system === 'herald-acks');
  if (withAcks) {
    // Issue 13: acknowledging delivery as the SDK does may cost at most 10 % of Herald's saturation.
    comparison.targets.push({
      target: `herald-acks saturation >= ${ACKS_SATURATION_AT_LEAST} x herald`,
      met: saturationMet(withAcks, herald, ACKS_SATURATION_AT_LEAST),
      detail: `${withAcks.rate ?? '-'}${withAcks.lowerBound ? '+' : ''} vs ${herald.rate ?? '-'}${herald.lowerBound ? '+' : ''}/s`,
    });
  }
  const compareRuns = runs.filter((run) => run.phase === 'compare');
  if (compareRuns.length > 0) comparison.compareRate = compareRuns[0].rate;
  const atCompareRate = (system: SystemName) => compareRuns.filter((run) => run.system === system);
  const setupOf = (system: SystemName) => setups.find((setup) => setup.system === system);
  const ratio = (mine: number | undefined, theirs: number | undefined) =>
    mine !== undefined && theirs !== undefined ? { herald: mine, other: theirs, ratio: mine / theirs } : undefined;
  const fixed = (value: number, digits = 2): string => value.toFixed(digits);

  for (const other of saturation) {
    if (other.system === 'herald') continue;
    const pair: PairComparison = { against: other.system };
    const bothUnbounded = herald.lowerBound && other.lowerBound;
    if (herald.rate !== undefined && other.rate !== undefined && !bothUnbounded) pair.saturationRatio = herald.rate / other.rate;

    if (atCompareRate('herald').length > 0 && atCompareRate(other.system).length > 0) {
      // A single run's p99 is at the mercy of whatever else the 2-core machine did in those seconds: it either
      // caught a burst of scheduling delay or did not. The p99 of all the interleaved runs' deliveries together weighs
      // every delivery once, for every system alike; the median and best of the runs' own p99s are kept too.
      const p99s = (system: SystemName): number[] => atCompareRate(system).map((run) => run.latencyMs.p99);
      const medianOfRuns = { herald: median(p99s('herald')), other: median(p99s(other.system)) };
      const heraldPooled = pooled.herald?.p99;
      const otherPooled = pooled[other.system]?.p99;
      const usePooled = heraldPooled !== undefined && otherPooled !== undefined;
      const mine = usePooled ? heraldPooled : medianOfRuns.herald;
      const theirs = usePooled ? otherPooled : medianOfRuns.other;
      pair.p99AtCompareRate = {
        herald: mine,
        other: theirs,
        ratio: mine / theirs,
        over: usePooled ? 'all deliveries' : 'median of runs',
        runsPerSystem: Math.min(p99s('herald').length, p99s(other.system).length),
        medianOfRuns,
        best: { herald: Math.min(...p99s('herald')), other: Math.min(...p99s(other.system)) },
      };
      const cpu = (system: SystemName): number | undefined =>
        mean(atCompareRate(system).flatMap((run) => run.instances.map((instance) => instance.cpuSecondsPer10kDeliveries)));
      pair.cpuSecondsPer10k = ratio(cpu('herald'), cpu(other.system));
    }
    // RSS is the figure; the V8 heap retained after a full GC is the steadier one (RSS moves with the allocator).
    pair.rssKbPerConnection = ratio(setupOf('herald')?.rssKbPerConnection, setupOf(other.system)?.rssKbPerConnection);
    pair.heapKbPerConnection = ratio(setupOf('herald')?.heapKbPerConnection, setupOf(other.system)?.heapKbPerConnection);
    comparison.pairs.push(pair);

    const rule = TARGET_RULES[other.system];
    if (!rule) continue;
    const name = other.system;
    if (rule.saturationAtLeast !== undefined) {
      comparison.targets.push({
        target: `saturation >= ${rule.saturationAtLeast} x ${name}`,
        met: saturationMet(herald, other, rule.saturationAtLeast),
        detail: `${herald.rate ?? '-'}${herald.lowerBound ? '+' : ''} vs ${other.rate ?? '-'}${other.lowerBound ? '+' : ''}/s`,
      });
    }
    if (rule.p99AtMost !== undefined && pair.p99AtCompareRate) {
      const { herald: mine, other: theirs } = pair.p99AtCompareRate;
      comparison.targets.push({
        target: `p99 at ${comparison.compareRate ?? '-'}/s <= ${rule.p99AtMost} x ${name}`,
        met: mine <= rule.p99AtMost * theirs,
        detail: `${fixed(mine)} vs ${fixed(theirs)} ms (${fixed(mine / theirs)})`,
      });
    }
    for (const [kind, factor, figures] of [
      ['RSS', rule.rssAtMost, pair.rssKbPerConnection],
      ['heap', rule.heapAtMost, pair.heapKbPerConnection],
    ] as const) {
      if (factor === undefined || !figures) continue;
      comparison.targets.push({
        target: `${kind} per idle connection <= ${factor} x ${name}`,
        met: figures.herald <= factor * figures.other,
        detail: `${fixed(figures.herald, 1)} vs ${fixed(figures.other, 1)} KB (${fixed(figures.ratio)})`,
      });
    }
  }
  return comparison;
}
