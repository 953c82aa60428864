import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunResult, SetupFigures } from '../report/bench-report.js';
import { compareSystems, saturationFromRuns, saturationMet, worthRetrying } from './comparison.js';
import type { SweepPhase, SystemName } from './sweep-planner.js';

function run(system: SystemName, rate: number, passed: boolean, p99: number, phase: SweepPhase = 'escalate', lost = 0): RunResult {
  return {
    system,
    phase,
    runId: `${system}-${rate}`,
    attempt: 1,
    rate,
    durationSeconds: 1,
    connections: { expected: 10, connectedAtStart: 10, connectedAtEnd: 10, disconnects: 0 },
    published: rate,
    publishErrors: 0,
    publisherLateMs: { p99: 0, max: 0 },
    deliveries: { expected: rate, received: rate - lost, lost, duplicates: 0, misdelivered: 0, stale: 0 },
    windowSeconds: 1,
    deliveriesPerSecond: rate,
    latencyMs: { count: rate, p50: p99 / 2, p90: p99, p99, max: p99, mean: p99 / 2 },
    instances: [{ name: `${system}-0`, deliveries: rate, cpuSecondsPer10kDeliveries: system === 'herald' ? 1 : 2 }],
    loadgen: { cpuSeconds: 0, coresUsed: 0, workerLagP99Ms: 0 },
    passed,
    failures: passed ? [] : ['failed'],
    warnings: [],
  };
}

const setup = (system: SystemName, rssKbPerConnection: number, heapKbPerConnection = rssKbPerConnection / 2): SetupFigures => ({
  system,
  connections: { expected: 10, connected: 10, failed: 0, errors: [] },
  connectSeconds: 1,
  instances: [],
  rssKbPerConnection,
  heapKbPerConnection,
});

describe('saturation and comparison', () => {
  const runs = [
    run('herald', 1000, true, 5),
    run('baseline', 1000, true, 6),
    run('herald', 2000, true, 20),
    run('baseline', 2000, false, 300, 'escalate', 12),
    run('herald', 4000, false, 200, 'escalate', 3),
    run('herald', 3000, true, 60, 'refine'),
    run('herald', 500, true, 2, 'compare'),
    run('baseline', 500, true, 3, 'compare'),
    run('baseline', 500, true, 40, 'compare'),
    run('herald', 500, true, 30, 'compare'),
    run('herald', 500, true, 4, 'compare'),
    run('baseline', 500, true, 5, 'compare'),
  ];

  it('takes the highest rate below the first failure, ignoring comparison runs', () => {
    assert.deepEqual(saturationFromRuns('herald', runs), { system: 'herald', rate: 3000, lowerBound: false });
    assert.deepEqual(saturationFromRuns('baseline', runs), { system: 'baseline', rate: 1000, lowerBound: false });
    assert.deepEqual(saturationFromRuns('baseline', runs.slice(0, 2)), { system: 'baseline', rate: 1000, lowerBound: true });
  });

  it('lets a retry that passed clear a latency failure, never a loss', () => {
    const retried = [run('herald', 1000, false, 150), run('herald', 1000, true, 50), run('herald', 2000, true, 60)];
    assert.deepEqual(saturationFromRuns('herald', retried), { system: 'herald', rate: 2000, lowerBound: true });
    const lossy = [run('herald', 1000, false, 50, 'escalate', 1), run('herald', 1000, true, 50)];
    assert.deepEqual(saturationFromRuns('herald', lossy), { system: 'herald', rate: undefined, lowerBound: false });
  });

  it('computes the ratios (median of the comparison repetitions) and which targets are met', () => {
    const saturation = [saturationFromRuns('herald', runs), saturationFromRuns('baseline', runs)];
    const comparison = compareSystems(saturation, runs, [setup('herald', 30), setup('baseline', 40)]);
    assert.equal(comparison.reference, 'baseline');
    assert.equal(comparison.compareRate, 500);
    const [pair] = comparison.pairs;
    assert.equal(pair.against, 'baseline');
    assert.equal(pair.saturationRatio, 3);
    assert.deepEqual(pair.p99AtCompareRate, {
      herald: 4,
      other: 5,
      ratio: 4 / 5,
      over: 'median of runs',
      runsPerSystem: 3,
      medianOfRuns: { herald: 4, other: 5 },
      best: { herald: 2, other: 3 },
    });
    assert.deepEqual(pair.cpuSecondsPer10k, { herald: 1, other: 2, ratio: 0.5 });
    assert.deepEqual(pair.rssKbPerConnection, { herald: 30, other: 40, ratio: 0.75 });
    assert.deepEqual(pair.heapKbPerConnection, { herald: 15, other: 20, ratio: 0.75 });
    assert.deepEqual(comparison.zeroLossUpToSaturation, { herald: true, baseline: true });
    assert.deepEqual(
      comparison.targets.map((target) => [target.target, target.met]),
      [
        ['herald: zero lost, zero duplicated up to its saturation', true],
        ['saturation >= 1 x baseline', true],
        ['p99 at 500/s <= 1 x baseline', true],
        ['RSS per idle connection <= 1 x baseline', true],
        ['heap per idle connection <= 1 x baseline', true],
      ],
    );
  });

  it('judges each baseline by its own factors: 0.8 x local saturation, 1.2 x its p99; streams at parity', () => {
    const three = [
      run('herald', 1000, true, 5),
      run('local', 1000, true, 5),
      run('streams', 1000, true, 5),
      run('herald', 2000, true, 5),
      run('local', 2000, true, 5),
      run('streams', 2000, false, 300, 'escalate', 9),
      run('herald', 4000, false, 300),
      run('local', 4000, true, 5),
      run('local', 8000, false, 300),
      run('herald', 2000, true, 11, 'compare'),
      run('local', 2000, true, 10, 'compare'),
      run('streams', 2000, true, 10, 'compare'),
    ];
    const saturation = (['herald', 'local', 'streams'] as const).map((system) => saturationFromRuns(system, three));
    const comparison = compareSystems(saturation, three, []);
    assert.equal(comparison.reference, 'local');
    assert.deepEqual(comparison.zeroLossUpToSaturation, { herald: true, local: true, streams: true });
    assert.deepEqual(
      comparison.targets.map((target) => [target.target, target.met]),
      [
        ['herald: zero lost, zero duplicated up to its saturation', true],
        // 2000 >= 0.8 x 4000 fails; 1.1 x local's p99 passes under 1.2
        ['saturation >= 0.8 x local', false],
        ['p99 at 2000/s <= 1.2 x local', true],
        ['saturation >= 1 x streams', true],
        ['p99 at 2000/s <= 1 x streams', false],
      ],
    );
  });

  it('holds Herald with acknowledging clients to 0.9 x Herald without (issue 13)', () => {
    const judge = (withAcks: number) => {
      const runs = [
        run('herald', 1000, true, 5),
        run('herald-acks', 1000, true, 5),
        run('herald', 2000, true, 5),
        run('herald', 4000, false, 300),
        run('herald-acks', withAcks, true, 5),
        run('herald-acks', withAcks * 2, false, 300),
      ];
      const saturation = (['herald', 'herald-acks'] as const).map((system) => saturationFromRuns(system, runs));
      return compareSystems(saturation, runs, []).targets.find((target) => target.target.startsWith('herald-acks'));
    };
    assert.deepEqual(judge(1000), { target: 'herald-acks saturation >= 0.9 x herald', met: false, detail: '1000 vs 2000/s' });
    assert.deepEqual(judge(1800), { target: 'herald-acks saturation >= 0.9 x herald', met: true, detail: '1800 vs 2000/s' });
  });

  it('calls a saturation target only when the figures can tell', () => {
    const at = (rate: number | undefined, lowerBound = false) => ({ system: 'herald' as const, rate, lowerBound });
    assert.equal(saturationMet(at(3000, true), at(3000, true), 1), undefined);
    assert.equal(saturationMet(at(3000, true), at(2000), 1), true);
    assert.equal(saturationMet(at(2000), at(3000, true), 0.8), false);
    assert.equal(saturationMet(at(2700), at(3000, true), 0.8), undefined);
    assert.equal(saturationMet(at(2400), at(3000), 0.8), true);
    assert.equal(saturationMet(at(undefined), at(3000), 0.8), false);
    assert.equal(saturationMet(at(1000), at(undefined), 1), true);
  });

  it('takes the p99 over all comparison deliveries together when they are given', () => {
    const saturation = [saturationFromRuns('herald', runs), saturationFromRuns('baseline', runs)];
    const latency = (p99: number) => ({ count: 100, p50: 1, p90: 2, p99, max: p99, mean: 1 });
    // The runs' median says Herald is better (4 vs 5 ms); all deliveries together say it is not.
    const comparison = compareSystems(saturation, runs, [], { herald: latency(12), baseline: latency(8) });
    const p99 = comparison.pairs[0].p99AtCompareRate;
    assert.ok(p99);
    assert.equal(p99.over, 'all deliveries');
    assert.equal(p99.herald, 12);
    assert.equal(p99.other, 8);
    assert.deepEqual(p99.medianOfRuns, { herald: 4, other: 5 });
    assert.equal(comparison.targets.find((target) => target.target.startsWith('p99'))?.met, false);
  });

  it('retries a latency failure, never a loss or a p99 five times over the limit', () => {
    assert.equal(worthRetrying(run('herald', 1000, false, 150), 100), true);
    assert.equal(worthRetrying(run('herald', 1000, true, 50), 100), false);
    assert.equal(worthRetrying(run('herald', 1000, false, 50, 'escalate', 1), 100), false);
    assert.equal(worthRetrying(run('herald', 1000, false, 500), 100), false);
    // ... unless other work on the shared machine competed with the run.
    const disturbed = { ...run('herald', 1000, false, 500), machine: { busyCores: 2, otherCores: 0.5, loadAverage1m: 4 } };
    assert.equal(worthRetrying(disturbed, 100), true);
    assert.equal(worthRetrying({ ...disturbed, deliveries: { ...disturbed.deliveries, lost: 1 } }, 100), false);
  });

  it('says a target is missed when Herald is worse', () => {
    const worse = compareSystems(
      [
        { system: 'herald', rate: 500, lowerBound: false },
        { system: 'baseline', rate: 1000, lowerBound: false },
      ],
      [run('herald', 500, true, 9, 'compare'), run('baseline', 500, true, 3, 'compare')],
      [setup('herald', 50, 14.2), setup('baseline', 40, 14.1)],
    );
    assert.deepEqual(
      worse.targets.map((target) => target.met),
      [true, false, false, false, false],
    );
  });

  it('does not rank saturation when neither system failed, and holds Herald before to +10 % RSS', () => {
    const unbounded = compareSystems(
      [
        { system: 'herald', rate: 3000, lowerBound: true },
        { system: 'previous', rate: 3000, lowerBound: true },
      ],
      [run('herald', 3000, true, 9), run('previous', 3000, true, 3)],
      [setup('herald', 21.5), setup('previous', 20)],
    );
    assert.equal(unbounded.pairs[0].saturationRatio, undefined);
    assert.deepEqual(
      unbounded.targets.map((target) => [target.target, target.met]),
      [
        ['herald: zero lost, zero duplicated up to its saturation', true],
        ['RSS per idle connection <= 1.1 x previous', true],
      ],
    );
  });
});
