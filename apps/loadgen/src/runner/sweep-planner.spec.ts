import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SweepPlanner, referenceSystem, roundRate, type SweepStep, type SystemName } from './sweep-planner.js';

/** Drives the planner against systems that pass below their capacity. */
function drive(planner: SweepPlanner, capacity: Partial<Record<SystemName, number>>): SweepStep[] {
  const steps: SweepStep[] = [];
  for (let step = planner.next(); step; step = planner.next()) {
    steps.push(step);
    for (const system of step.systems) planner.record(system, step.rate, step.rate <= (capacity[system] ?? 0), step.phase);
    assert.ok(steps.length < 100, 'the sweep must end');
  }
  return steps;
}

describe('roundRate', () => {
  it('keeps two significant digits', () => {
    assert.equal(roundRate(1125), 1100);
    assert.equal(roundRate(1687.5), 1700);
    assert.equal(roundRate(75), 75);
    assert.equal(roundRate(0.4), 1);
  });
});

describe('SweepPlanner', () => {
  it('escalates both systems together, drops each at its first failure, bisects, then compares at half the baseline', () => {
    const planner = new SweepPlanner({ startRate: 500, factor: 2, maxRate: 100_000, refineSteps: 1, systems: ['herald', 'baseline'], compareRepeats: 2 });
    const steps = drive(planner, { herald: 2500, baseline: 1500 });
    assert.deepEqual(
      steps.filter((step) => step.phase === 'escalate').map((step) => [step.rate, step.systems.join('+')]),
      [
        [500, 'herald+baseline'],
        [1000, 'herald+baseline'],
        [2000, 'herald+baseline'],
        [4000, 'herald'],
      ],
    );
    assert.deepEqual(
      steps.filter((step) => step.phase === 'refine').map((step) => [step.rate, step.systems.join('+')]),
      [
        [3000, 'herald'],
        [1500, 'baseline'],
      ],
    );
    assert.equal(planner.saturation('herald'), 2000);
    assert.equal(planner.saturation('baseline'), 1500);
    assert.deepEqual(steps.slice(-3), [
      { rate: 1500, systems: ['baseline'], phase: 'refine' },
      { rate: 750, systems: ['herald', 'baseline'], phase: 'compare' },
      { rate: 750, systems: ['herald', 'baseline'], phase: 'compare' },
    ]);
  });

  it('reports a lower bound when a system never fails, and bisects below the start rate when it fails at once', () => {
    const planner = new SweepPlanner({ startRate: 1000, factor: 2, maxRate: 4000, refineSteps: 2, systems: ['herald', 'baseline'], compareRepeats: 2 });
    drive(planner, { herald: 1e9, baseline: 300 });
    assert.equal(planner.saturation('herald'), 4000);
    assert.equal(planner.unbounded('herald'), true);
    // baseline: fails at 1000, then 500 (fail), then 250 (pass)
    assert.equal(planner.saturation('baseline'), 250);
    assert.equal(planner.unbounded('baseline'), false);
  });

  it('compares every system at half the saturation of the bare baseline in its strongest form', () => {
    const planner = new SweepPlanner({ startRate: 1000, factor: 2, maxRate: 100_000, refineSteps: 0, systems: ['herald', 'local', 'streams'], compareRepeats: 1 });
    const steps = drive(planner, { herald: 3000, local: 5000, streams: 1500 });
    assert.deepEqual(steps.at(-1), { rate: 2000, systems: ['herald', 'local', 'streams'], phase: 'compare' });
    assert.equal(referenceSystem(['herald', 'streams', 'local']), 'local');
    assert.equal(referenceSystem(['herald', 'baseline']), 'baseline');
    assert.equal(referenceSystem(['herald', 'streams']), 'streams');
    assert.equal(referenceSystem(['local', 'streams']), undefined);
  });

  it('skips the comparison when no baseline is part of the sweep', () => {
    const planner = new SweepPlanner({ startRate: 100, factor: 2, maxRate: 1000, refineSteps: 0, systems: ['herald'], compareRepeats: 2 });
    const steps = drive(planner, { herald: 300, baseline: 0 });
    assert.ok(steps.every((step) => step.phase !== 'compare'));
  });
});
