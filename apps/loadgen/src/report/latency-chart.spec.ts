import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { logTicks, nice125, renderLatencyChart } from './latency-chart.js';

describe('renderLatencyChart', () => {
  const svg = renderLatencyChart({
    title: 'Latency <p99> & rate',
    xLabel: 'rate',
    yLabel: 'ms',
    series: [
      {
        label: 'herald p99',
        color: '#00f',
        points: [
          { x: 500, y: 2 },
          { x: 1000, y: 3 },
          { x: 2000, y: 150, failed: true },
        ],
      },
      {
        label: 'baseline p99',
        color: '#f80',
        dashed: true,
        points: [
          { x: 500, y: 1.5 },
          { x: 250, y: 1, separate: true },
        ],
      },
    ],
    limit: { y: 100, label: 'p99 limit' },
    markers: [{ x: 1000, label: 'herald sat.', color: '#00f' }],
  });

  it('is one SVG document with a group and a point per run for each series', () => {
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.equal(svg.match(/<g class="series"/g)?.length, 2);
    assert.equal(svg.match(/<circle /g)?.length, 4);
    assert.equal(svg.match(/<polyline /g)?.length, 1, 'a one-point series has no line');
    assert.equal(svg.match(/<rect x="[\d.]+" y="[\d.]+" width="8"/g)?.length, 1, 'separate points are squares');
  });

  it('draws failed runs hollow, the limit line and markers, and escapes text', () => {
    assert.match(svg, /fill="white"><title>herald p99: 2000\/s, 150\.00 ms \(failed\)<\/title>/);
    assert.match(svg, /p99 limit/);
    assert.match(svg, /herald sat\./);
    assert.match(svg, /Latency &#60;p99&#62; &#38; rate/);
    assert.doesNotMatch(svg, /NaN|Infinity/);
  });

  it('puts 1-2-5 ticks on log axes', () => {
    assert.deepEqual(logTicks(100, 1000), [100, 200, 500, 1000]);
    assert.deepEqual(logTicks(0.1, 1), [0.1, 0.2, 0.5, 1]);
  });

  it('rounds axis ends to 1-2-5 values', () => {
    assert.equal(nice125(150, 'up'), 200);
    assert.equal(nice125(150, 'down'), 100);
    assert.equal(nice125(0.3, 'down'), 0.2);
    assert.equal(nice125(500, 'up'), 500);
  });
});
