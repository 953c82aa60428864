import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunResult, ScalingSession } from '../report/bench-report.js';
import { summarizeScaling } from './scaling.js';
import type { SystemName } from './sweep-planner.js';

function run(system: SystemName, clusterCpuUsPerNotification: number | undefined, redisUs?: number): RunResult {
  return {
    system,
    phase: 'scaling',
    runId: `${system}-x`,
    attempt: 1,
    rate: 1000,
    durationSeconds: 1,
    connections: { expected: 10, connectedAtStart: 10, connectedAtEnd: 10, disconnects: 0 },
    published: 1000,
    publishErrors: 0,
    publisherLateMs: { p99: 0, max: 0 },
    deliveries: { expected: 2000, received: 2000, lost: 0, duplicates: 0, misdelivered: 0, stale: 0 },
    windowSeconds: 1,
    deliveriesPerSecond: 2000,
    latencyMs: { count: 2000, p50: 1, p90: 2, p99: 3, max: 4, mean: 1 },
    instances: [],
    clusterCpuUsPerNotification,
    redis:
      redisUs === undefined
        ? undefined
        : { cpuSeconds: 0, cpuUsPerNotification: redisUs, usedMemoryDeltaBytes: 0, usedMemoryPeakBytes: 0, memoryBytesPerNotification: 0, commands: [] },
    loadgen: { cpuSeconds: 0, coresUsed: 0, workerLagP99Ms: 0 },
    passed: true,
    failures: [],
    warnings: [],
  };
}

const session = (instances: number, runs: RunResult[]): ScalingSession => ({ instances, setups: [], runs });

describe('summarizeScaling', () => {
  it('pools sessions of the same instance count and divides the largest count by the smallest', () => {
    const summary = summarizeScaling([
      session(1, [run('herald', 100, 20), run('local', 80, 5), run('herald', 110, 20)]),
      session(4, [run('herald', 120, 22), run('local', 200, 5)]),
      session(1, [run('herald', 90, 20)]),
      session(4, [run('herald', 130, 22), run('herald', 125, 22), run('local', undefined)]),
    ]);
    const herald = summary.find((entry) => entry.system === 'herald');
    assert.ok(herald);
    assert.deepEqual(
      herald.points.map((point) => [point.instances, point.runs, point.clusterCpuUsPerNotification, point.redisCpuUsPerNotification]),
      [
        [1, 3, 100, 20],
        [4, 3, 125, 22],
      ],
    );
    assert.equal(herald.ratio, 1.25);
    assert.equal(herald.ratioWithRedis, 147 / 120);
    const local = summary.find((entry) => entry.system === 'local');
    assert.equal(local?.ratio, 2.5);
  });

  it('gives no ratio with a single instance count measured', () => {
    const [only] = summarizeScaling([session(2, [run('herald', 100)])]);
    assert.equal(only.ratio, undefined);
    assert.equal(only.points.length, 1);
  });
});
