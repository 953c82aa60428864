/**
 * What the metrics cost on the delivery path and per scrape, in-process (no network).
 * `npm run build && node dist/bench/metrics-overhead.js`; bounded: a few million calls, a few seconds.
 */
import { performance } from 'node:perf_hooks';
import { Patterns } from '@herald/contracts';
import { HeraldMetrics } from '@herald/metrics';
import { Counter, Registry } from 'prom-client';

const ITERATIONS = 2_000_000;
const SCRAPES = 200;

function nsPerOp(label: string, run: (i: number) => void): number {
  for (let i = 0; i < 100_000; i += 1) run(i); // warm-up
  const started = performance.now();
  for (let i = 0; i < ITERATIONS; i += 1) run(i);
  const ns = ((performance.now() - started) * 1e6) / ITERATIONS;
  console.log(`${label.padEnd(58)} ${ns.toFixed(1).padStart(7)} ns/op`);
  return ns;
}

const metrics = new HeraldMetrics({ instanceId: 'bench' });
metrics.countConnectedSocketsWith(() => 1000);
const start = Date.now();

nsPerOp('commandReceived (pre-resolved child)', () => metrics.commandReceived(Patterns.NotifyUser));
nsPerOp('delivered: counter + latency histogram (pre-resolved)', () => metrics.delivered(Patterns.NotifyUser, 1, start));
nsPerOp('whole notify path: received + delivered', () => {
  metrics.commandReceived(Patterns.NotifyUser);
  metrics.delivered(Patterns.NotifyUser, 1, start);
});

// The alternative the hot path avoids: a label object per message.
const registry = new Registry();
const labelled = new Counter({ name: 'bench_labelled_total', help: 'x', labelNames: ['pattern'], registers: [registry] });
nsPerOp('for comparison: counter.inc({ pattern }) per message', () => labelled.inc({ pattern: Patterns.NotifyUser }));

async function scrapes(): Promise<void> {
  let bytes = 0;
  const started = performance.now();
  for (let i = 0; i < SCRAPES; i += 1) bytes = (await metrics.exposition()).length;
  console.log(
    `${'scrape (registry.metrics(), default metrics included)'.padEnd(58)} ${((performance.now() - started) / SCRAPES).toFixed(3).padStart(7)} ms/scrape, ${bytes} bytes`,
  );
}
await scrapes();
