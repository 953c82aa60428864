import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { cleanUp, runBenchSmoke, runLoadgen, type BenchSmokeRun } from '@herald/testing';
import type { BenchReport } from '../../apps/loadgen/src/report/bench-report.js';

// A few clients for a second, against Herald and every baseline: the harness must keep working (it is not a benchmark).
const CONNECTIONS = 6;
const USERS = 3;
const RATE = 20;
const SYSTEMS = ['herald', 'herald-acks', 'local', 'streams', 'baseline'] as const;

describe('benchmark harness smoke run', () => {
  let smoke: BenchSmokeRun | undefined;
  let report: BenchReport;
  let stdout: string;

  before(async () => {
    smoke = await runBenchSmoke(['--rates', String(RATE), '--duration', '1', '--warmup', '0.5', '--systems', SYSTEMS.join(',')], {
      connections: CONNECTIONS,
      users: USERS,
    });
    report = smoke.report;
    stdout = smoke.stdout;
  });

  after(() => cleanUp(smoke));

  for (const system of SYSTEMS) {
    it(`${system}: every client connects and every notification arrives exactly once, from both instances`, () => {
      const setup = report.setups.find((entry) => entry.system === system);
      assert.deepEqual(setup?.connections, { expected: CONNECTIONS, connected: CONNECTIONS, failed: 0, errors: [] });
      const runs = report.runs.filter((run) => run.system === system);
      assert.equal(runs.length, 1);
      const run = runs[0];
      assert.equal(run.published, RATE);
      // Each command targets one user, who has CONNECTIONS / USERS devices.
      assert.equal(run.deliveries.expected, RATE * (CONNECTIONS / USERS));
      assert.deepEqual(run.deliveries, { expected: run.deliveries.expected, received: run.deliveries.expected, lost: 0, duplicates: 0, misdelivered: 0, stale: 0 });
      assert.equal(run.latencyMs.count, run.deliveries.expected);
      assert.ok(run.latencyMs.p50 > 0 && run.latencyMs.max < 10_000, `latency ${JSON.stringify(run.latencyMs)}`);
      assert.equal(run.instances.length, 2);
      for (const instance of run.instances) {
        assert.ok(instance.deliveries > 0, `${instance.name} delivered nothing`);
        assert.ok(instance.cpuSeconds !== undefined && instance.eventLoopLagP99Ms !== undefined, `${instance.name} was not measured`);
        assert.ok(instance.gc !== undefined && instance.gc.minorCount >= 0, `${instance.name}: no GC figures`);
      }
      assert.equal(
        run.instances.reduce((sum, instance) => sum + instance.deliveries, 0),
        run.deliveries.expected,
      );
      assert.equal(run.passed, true, run.failures.join(', '));
      const warmups = report.warmups?.filter((entry) => entry.system === system) ?? [];
      assert.equal(warmups.length, 1, 'one unreported warm-up run per system, before the measured runs');
      assert.equal(warmups[0].phase, 'warmup');
      assert.equal(warmups[0].deliveries.lost + warmups[0].deliveries.duplicates, 0);
      for (const instance of setup.instances) assert.ok((instance.rssBeforeKb ?? 0) > 0 && (instance.rssAfterKb ?? 0) > 0, `${instance.name}: no RSS figures`);
      // What it cost in Redis: CPU per notification from INFO, and what it keeps (only Herald and streams store).
      assert.ok(run.redis && run.redis.cpuUsPerNotification > 0, `${system}: no Redis figures`);
      assert.equal(run.clusterCpuUsPerNotification !== undefined, true);
      const kept = report.redisStorage?.[system];
      assert.ok(kept, `${system}: no Redis storage figures`);
      if (system !== 'local' && system !== 'baseline') assert.ok(kept.streamEntries >= RATE, `${system} keeps ${kept.streamEntries} entries`);
      else assert.equal(kept.streamEntries, 0);
    });
  }

  it('prints the tables, writes the chart and compares the systems', () => {
    for (const system of SYSTEMS) assert.match(stdout, new RegExp(`^${system}\\s+20\\s+fixed\\s+6\\s+40\\s+40\\s+0\\s+0`, 'm'));
    assert.match(stdout, /^redis\s+runs\s+cpu us\/notif/m);
    assert.ok(report.chartFile && existsSync(report.chartFile));
    const svg = readFileSync(report.chartFile, 'utf8');
    for (const system of SYSTEMS) for (const stat of ['p50', 'p99']) assert.match(svg, new RegExp(`data-label="${system} ${stat}"`));
    assert.deepEqual(report.comparison.zeroLossUpToSaturation, { herald: true, 'herald-acks': true, local: true, streams: true, baseline: true });
    assert.deepEqual(
      report.comparison.pairs.map((pair) => pair.against),
      ['herald-acks', 'local', 'streams', 'baseline'],
    );
    assert.ok(report.comparison.pairs.every((pair) => pair.rssKbPerConnection));
  });

  it('herald-acks: the clients acknowledge delivery as the SDK does, at most every 250 ms each; herald clients do not', () => {
    const run = (system: string) => report.runs.find((entry) => entry.system === system);
    const acks = run('herald-acks')?.acksSent ?? 0;
    // About 7 notifications per device in one second: the first is acknowledged at once, the rest at most 4 times a second.
    assert.ok(acks >= CONNECTIONS && acks <= CONNECTIONS * 6, `acks sent: ${acks}`);
    assert.equal(run('herald')?.acksSent, 0);
    const target = report.comparison.targets.find((entry) => entry.target.startsWith('herald-acks saturation'));
    assert.ok(target, 'the acknowledgement cost target is judged');
  });

  it('refuses bad flags with a clear message and nothing else', async () => {
    const outcome = await runLoadgen(['--connections=-3', '--systems', 'herald,kafka']);
    assert.equal(outcome.code, 64);
    assert.match(outcome.stderr, /--connections: connections must be positive/);
    assert.match(outcome.stderr, /--systems: systems must be among herald, herald-acks, local, streams, baseline, previous/);
    assert.equal(outcome.stdout, '');
  });
});

describe('benchmark harness smoke sweep', () => {
  let smoke: BenchSmokeRun | undefined;
  let report: BenchReport;

  before(async () => {
    // Two escalation rates that both systems pass, then the comparison at half the bare baseline's (lower-bound) saturation.
    smoke = await runBenchSmoke(
      [
        '--systems',
        'herald,local',
        '--start-rate',
        '10',
        '--rate-factor',
        '2',
        '--max-rate',
        '20',
        '--duration',
        '0.5',
        '--warmup',
        '0',
        '--compare-repeats',
        '2',
        '--compare-duration',
        '0.5',
        '--compare-settle',
        '0.5',
      ],
      { connections: CONNECTIONS, users: USERS },
    );
    report = smoke.report;
  });

  after(() => cleanUp(smoke));

  const counter = (runId: string): number => Number(runId.split('-')[1]);

  it('settles each system at the compared rate right before each of its comparison runs', () => {
    for (const system of ['herald', 'local'] as const) {
      const compares = report.runs.filter((run) => run.system === system && run.phase === 'compare');
      assert.equal(compares.length, 2);
      const settles = (report.warmups ?? []).filter((run) => run.system === system && run.phase === 'settle');
      assert.equal(settles.length, 2);
      for (const compare of compares) {
        assert.equal(compare.rate, 10);
        const settle = settles.find((run) => counter(run.runId) === counter(compare.runId) - 1);
        assert.ok(settle, `no settle run right before ${compare.runId}`);
        assert.equal(settle.rate, compare.rate);
        assert.equal(settle.deliveries.lost + settle.deliveries.duplicates, 0);
      }
    }
  });

  it('judges the tail on all deliveries of the comparison runs', () => {
    assert.equal(report.comparison.reference, 'local');
    const p99 = report.comparison.pairs[0]?.p99AtCompareRate;
    assert.ok(p99, 'no p99 comparison');
    assert.equal(p99.over, 'all deliveries');
    assert.equal(p99.runsPerSystem, 2);
    assert.equal(report.comparison.zeroLossUpToSaturation.herald, true);
  });
});
