export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** The median of a few figures (of repeated runs); the mean of the middle two for an even count. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Nearest-rank percentile of sorted values: the smallest value with at least p% of the samples at or below it. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Exact percentiles over every sample (the harness keeps them all: a few MB at most per run). */
export function summarizeLatencies(chunks: readonly Float64Array[]): LatencySummary {
  const count = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const all = new Float64Array(count);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  all.sort();
  let total = 0;
  for (const value of all) total += value;
  return {
    count,
    p50: percentile(all, 50),
    p90: percentile(all, 90),
    p99: percentile(all, 99),
    max: count > 0 ? all[count - 1] : Number.NaN,
    mean: count > 0 ? total / count : Number.NaN,
  };
}

/** A Float64Array that grows, so workers record receipts without a JS array of boxed numbers. */
export class SampleBuffer {
  private values: Float64Array;
  private size = 0;

  constructor(initialCapacity = 1024) {
    this.values = new Float64Array(Math.max(16, initialCapacity));
  }

  push(value: number): void {
    if (this.size === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.size++] = value;
  }

  get length(): number {
    return this.size;
  }

  /** A copy of the recorded values, sized exactly (safe to send over IPC). */
  toArray(): Float64Array {
    return this.values.slice(0, this.size);
  }
}
