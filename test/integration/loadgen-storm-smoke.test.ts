import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cleanUp, runBenchSmoke, type BenchSmokeRun } from '@herald/testing';
import type { BenchReport } from '../../apps/loadgen/src/report/bench-report.js';

// A reconnect storm with a few clients: the harness's storm mode must keep working (it is not a benchmark). Herald's
// clients resume with their cursor and miss nothing; the bare baseline's clients lose what was sent while they were away.
const CONNECTIONS = 6;
const USERS = 3;
const RATE = 20;

describe('benchmark harness smoke storm', () => {
  let smoke: BenchSmokeRun | undefined;
  let report: BenchReport;
  let stdout: string;

  before(async () => {
    smoke = await runBenchSmoke(
      [
        '--storm',
        '--systems',
        'herald,local',
        '--rates',
        String(RATE),
        '--duration',
        '1.5',
        '--storm-at',
        '0.3',
        // Long enough for socket.io-client's first reconnection (0.5-1.5 s after the storm) and Herald's replay.
        '--drain-timeout',
        '2.5',
        '--warmup',
        '0',
      ],
      { connections: CONNECTIONS, users: USERS },
    );
    report = smoke.report;
    stdout = smoke.stdout;
  });

  after(() => cleanUp(smoke));

  it('moves every client of instance 0 to instance 1 and brings each back', () => {
    for (const system of ['herald', 'local'] as const) {
      const run = report.runs.find((entry) => entry.system === system);
      assert.ok(run?.storm, `${system}: no storm run`);
      assert.equal(run.phase, 'storm');
      assert.equal(run.storm.instance, 0);
      assert.equal(run.storm.clients, CONNECTIONS / 2);
      assert.equal(run.storm.reconnected, run.storm.clients, `${system}: clients did not come back`);
      assert.equal(run.storm.reconnectMs.count, run.storm.clients);
      assert.equal(run.connections.connectedAtEnd, CONNECTIONS);
      assert.equal(run.connections.disconnects, 0, 'a stormed client is not an unexpected disconnect');
      // After the storm every client sits on instance 1.
      assert.ok(run.instances[1].deliveries > run.instances[0].deliveries);
    }
  });

  it('Herald resumes every stormed client with nothing lost or repeated; the bare baseline loses', () => {
    const herald = report.runs.find((entry) => entry.system === 'herald');
    assert.deepEqual(
      { lost: herald?.deliveries.lost, duplicates: herald?.deliveries.duplicates, recovered: herald?.storm?.recovered },
      { lost: 0, duplicates: 0, recovered: CONNECTIONS / 2 },
    );
    const local = report.runs.find((entry) => entry.system === 'local');
    assert.ok((local?.storm?.lost ?? 0) > 0, 'the bare baseline lost nothing: was there a storm?');
    assert.equal(local?.storm?.lost, local?.deliveries.lost, 'only stormed clients lose');
    assert.equal(report.comparison.targets.find((target) => target.target.startsWith('reconnect storm'))?.met, true);
    assert.match(stdout, /^storm\s+rate\/s\s+kind/m);
  });
});
