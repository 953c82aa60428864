import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runLoadgen } from '@herald/testing';
import type { BenchReport } from '../../apps/loadgen/src/report/bench-report.js';

// A few clients for a second, against Herald and the baseline: the harness must keep working (it is not a benchmark).
const CONNECTIONS = 6;
const USERS = 3;
const RATE = 20;

describe('benchmark harness smoke run', () => {
  let dir: string;
  let report: BenchReport;
  let stdout: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-bench-'));
    const outcome = await runLoadgen([
      '--rates',
      String(RATE),
      '--duration',
      '1',
      '--instances',
      '2',
      '--connections',
      String(CONNECTIONS),
      '--users',
      String(USERS),
      '--workers',
      '2',
      '--warmup',
      '0.5',
      // Speed is the benchmark's business, not a test's: a busy CI machine must not fail the run on latency.
      '--max-p99',
      '10000',
      '--out',
      dir,
      '--json',
      join(dir, 'report.json'),
      '--quiet',
    ]);
    assert.equal(outcome.code, 0, `bench exited ${outcome.code}:\n${outcome.stderr}\n${outcome.stdout}`);
    stdout = outcome.stdout;
    report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as BenchReport;
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const system of ['herald', 'baseline'] as const) {
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
    });
  }

  it('prints the tables, writes the chart and compares the systems', () => {
    assert.match(stdout, /^herald\s+20\s+fixed\s+6\s+40\s+40\s+0\s+0/m);
    assert.match(stdout, /^baseline\s+20\s+fixed\s+6\s+40\s+40\s+0\s+0/m);
    assert.ok(report.chartFile && existsSync(report.chartFile));
    const svg = readFileSync(report.chartFile, 'utf8');
    for (const label of ['herald p50', 'herald p99', 'baseline p50', 'baseline p99']) assert.match(svg, new RegExp(`data-label="${label}"`));
    assert.equal(report.comparison.targetsMet?.zeroLossUpToSaturation, true);
    assert.ok(report.comparison.rssKbPerConnection);
  });

  it('refuses bad flags with a clear message and nothing else', async () => {
    const outcome = await runLoadgen(['--connections=-3', '--systems', 'herald,kafka']);
    assert.equal(outcome.code, 64);
    assert.match(outcome.stderr, /--connections: connections must be positive/);
    assert.match(outcome.stderr, /--systems: systems must be among herald, baseline/);
    assert.equal(outcome.stdout, '');
  });
});

describe('benchmark harness smoke sweep', () => {
  let dir: string;
  let report: BenchReport;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-bench-sweep-'));
    // Two escalation rates that both systems pass, then the comparison at half the baseline's (lower-bound) saturation.
    const outcome = await runLoadgen([
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
      '--instances',
      '2',
      '--connections',
      String(CONNECTIONS),
      '--users',
      String(USERS),
      '--workers',
      '2',
      '--max-p99',
      '10000',
      '--out',
      dir,
      '--json',
      join(dir, 'report.json'),
      '--quiet',
    ]);
    assert.equal(outcome.code, 0, `bench exited ${outcome.code}:\n${outcome.stderr}\n${outcome.stdout}`);
    report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as BenchReport;
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const counter = (runId: string): number => Number(runId.split('-')[1]);

  it('settles each system at the compared rate right before each of its comparison runs', () => {
    for (const system of ['herald', 'baseline'] as const) {
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
    const p99 = report.comparison.p99AtHalfBaselineMs;
    assert.ok(p99, 'no p99 comparison');
    assert.equal(p99.over, 'all deliveries');
    assert.equal(p99.runsPerSystem, 2);
    assert.equal(report.comparison.targetsMet?.zeroLossUpToSaturation, true);
  });
});
