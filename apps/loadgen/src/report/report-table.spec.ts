import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SystemName } from '../runner/sweep-planner.js';
import type { RunResult } from './bench-report.js';
import { renderMedians, renderStorms, renderTable } from './report-table.js';

const run = (system: SystemName, rate: number, p99: number, cpu: number): RunResult =>
  ({
    system,
    rate,
    passed: true,
    latencyMs: { count: 1, p50: p99 / 2, p90: p99, p99, max: p99, mean: p99 },
    instances: [{ name: 'x', deliveries: 1, cpuSecondsPer10kDeliveries: cpu }],
    clusterCpuUsPerNotification: cpu * 100,
    deliveries: { expected: 10, received: 10, lost: 0, duplicates: 0, misdelivered: 0, stale: 0 },
  }) as RunResult;

describe('report tables', () => {
  it('pads columns, text to the left and numbers to the right', () => {
    assert.equal(
      renderTable(
        ['name', 'n'],
        [
          ['a', '1'],
          ['bbb', '22'],
        ],
      ),
      'name  n\n----  --\na      1\nbbb   22',
    );
  });

  it('gives medians of repeated runs and Herald/other ratios for every other system', () => {
    const text = renderMedians([
      run('herald', 100, 10, 1),
      run('herald', 100, 30, 3),
      run('herald', 100, 20, 2),
      run('baseline', 100, 5, 1),
      run('baseline', 100, 15, 1),
      run('local', 100, 40, 4),
    ]);
    assert.match(text, /^herald\s+100\s+3\/3\s+10\.00\s+20\.00\s+2\.000\s+200$/m);
    assert.match(text, /^baseline\s+100\s+2\/2\s+5\.00\s+10\.00\s+1\.000\s+100$/m);
    assert.match(text, /^herald\/baseline\s+100\s+-\s+2\.00\s+2\.00\s+2\.00\s+2\.00$/m);
    assert.match(text, /^herald\/local\s+100\s+-\s+0\.50\s+0\.50\s+0\.50\s+0\.50$/m);
  });

  it('lists what each storm did, recovery only for the systems that have it', () => {
    const latency = { count: 2, p50: 900, p90: 1400, p99: 1500, max: 1500, mean: 1000 };
    const stormed = (system: SystemName, lost: number, recovered: number): RunResult => ({
      ...run(system, 2000, 50, 1),
      deliveries: { expected: 100, received: 100 - lost, lost, duplicates: 0, misdelivered: 0, stale: 0 },
      storm: {
        kind: 'close',
        instance: 0,
        atSeconds: 3,
        clients: 500,
        reconnected: 500,
        recovered,
        connectErrors: 0,
        reconnectMs: latency,
        handshakeMs: latency,
        lost,
        duplicates: 0,
      },
    });
    const text = renderStorms([stormed('herald', 0, 500), stormed('local', 1200, 0), run('herald', 2000, 5, 1)]);
    assert.match(text, /^herald\s+2000\s+close\s+500\s+500\s+500\s+0\s+0\s+0\s+900\s+1500/m);
    assert.match(text, /^local\s+2000\s+close\s+500\s+500\s+n\/a\s+1200\s+1200\s+0/m);
    assert.equal(text.split('\n').length, 4);
  });
});
