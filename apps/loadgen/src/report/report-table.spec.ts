import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunResult } from './bench-report.js';
import { renderMedians, renderTable } from './report-table.js';

const run = (system: 'herald' | 'baseline', rate: number, p99: number, cpu: number): RunResult =>
  ({
    system,
    rate,
    passed: true,
    latencyMs: { count: 1, p50: p99 / 2, p90: p99, p99, max: p99, mean: p99 },
    instances: [{ name: 'x', deliveries: 1, cpuSecondsPer10kDeliveries: cpu }],
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

  it('gives medians of repeated runs and Herald/baseline ratios', () => {
    const text = renderMedians([
      run('herald', 100, 10, 1),
      run('herald', 100, 30, 3),
      run('herald', 100, 20, 2),
      run('baseline', 100, 5, 1),
      run('baseline', 100, 15, 1),
    ]);
    assert.match(text, /^herald\s+100\s+3\/3\s+10\.00\s+20\.00\s+2\.000$/m);
    assert.match(text, /^baseline\s+100\s+2\/2\s+5\.00\s+10\.00\s+1\.000$/m);
    assert.match(text, /^herald\/baseline\s+100\s+-\s+2\.00\s+2\.00\s+2\.00$/m);
  });
});
