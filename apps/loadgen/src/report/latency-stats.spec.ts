import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SampleBuffer, percentile, summarizeLatencies } from './latency-stats.js';

describe('latency statistics', () => {
  it('uses nearest-rank percentiles over all chunks', () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1); // 1..100
    const summary = summarizeLatencies([Float64Array.from(values.slice(50)), Float64Array.from(values.slice(0, 50).reverse())]);
    assert.equal(summary.count, 100);
    assert.equal(summary.p50, 50);
    assert.equal(summary.p90, 90);
    assert.equal(summary.p99, 99);
    assert.equal(summary.max, 100);
    assert.equal(summary.mean, 50.5);
  });

  it('gives the single value for one sample and NaN for none', () => {
    assert.equal(percentile(Float64Array.of(3.5), 99), 3.5);
    assert.ok(Number.isNaN(summarizeLatencies([]).p99));
  });

  it('SampleBuffer grows and returns exactly what was pushed', () => {
    const buffer = new SampleBuffer(1);
    for (let index = 0; index < 100; index++) buffer.push(index / 2);
    const values = buffer.toArray();
    assert.equal(values.length, 100);
    assert.equal(values[99], 49.5);
  });
});
