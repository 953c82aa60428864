import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';

export type Labels = Record<string, string>;
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  labels: Labels;
  value: number;
}

export interface HistogramSeries {
  /** The series' labels, without `le`. */
  labels: Labels;
  /** Cumulative count per upper bound, keyed as exposed (`"0.001"`, ..., `"+Inf"`). */
  buckets: Record<string, number>;
  count: number;
  sum: number;
}

/** `{a="1",b="2"}` with sorted keys: one stable key per label set, for comparing whole families. */
export function labelKey(labels: Labels): string {
  return `{${Object.keys(labels)
    .sort()
    .map((key) => `${key}=${JSON.stringify(labels[key])}`)
    .join(',')}}`;
}

const sameLabels = (a: Labels, b: Labels): boolean => labelKey(a) === labelKey(b);

/** Sample values as the text format writes them: floats, `+Inf`, `-Inf`, `NaN` (prom-client writes `Nan`). */
function sampleValue(text: string | undefined): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text !== undefined && /^nan$/i.test(text)) return NaN;
  const value = Number(text);
  if (text === undefined || text.trim() === '' || Number.isNaN(value)) throw new Error(`not a sample value: ${String(text)}`);
  return value;
}

/**
 * One scrape of an instance's `/metrics`, parsed with parse-prometheus-text-format (a port of the official
 * Python client's parser). That parser merges the series of a *labelled* histogram into one, so histograms are
 * parsed a second time declared `untyped`: their `_bucket`, `_sum` and `_count` samples then come out as they
 * are exposed, each with its own labels (which is also how Prometheus stores them).
 */
export class MetricsSnapshot {
  private constructor(
    private readonly typed: Map<string, ParsedFamily>,
    private readonly flat: Map<string, ParsedFamily>,
    readonly contentType: string,
  ) {}

  static async scrape(baseUrl: string): Promise<MetricsSnapshot> {
    const response = await fetch(`${baseUrl}/metrics`);
    if (response.status !== 200) throw new Error(`GET ${baseUrl}/metrics answered ${response.status}`);
    return MetricsSnapshot.parse(await response.text(), response.headers.get('content-type') ?? '');
  }

  static parse(text: string, contentType = ''): MetricsSnapshot {
    // Untyped, prom-client's per-series order (buckets, sum, count, next series...) reads as repeated families: merge them.
    const byName = (families: ParsedFamily[]): Map<string, ParsedFamily> => {
      const merged = new Map<string, ParsedFamily>();
      for (const family of families) {
        const seen = merged.get(family.name);
        if (seen) seen.metrics.push(...family.metrics);
        else merged.set(family.name, { ...family, metrics: [...family.metrics] });
      }
      return merged;
    };
    const histogramsUntyped = text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped');
    return new MetricsSnapshot(byName(parsePrometheusTextFormat(text)), byName(parsePrometheusTextFormat(histogramsUntyped)), contentType);
  }

  get names(): string[] {
    return [...this.typed.keys()];
  }

  type(name: string): MetricType {
    return this.typedFamily(name).type.toLowerCase() as MetricType;
  }

  /** Every sample of a counter or gauge family. */
  samples(name: string): Sample[] {
    const family = this.typedFamily(name);
    if (family.type === 'HISTOGRAM' || family.type === 'SUMMARY') throw new Error(`${name} is a ${family.type.toLowerCase()}`);
    return family.metrics.map((sample) => ({ labels: sample.labels ?? {}, value: sampleValue(sample.value) }));
  }

  /** The value of the sample of a counter or gauge with exactly these labels; throws when there is none. */
  value(name: string, labels: Labels = {}): number {
    const sample = this.samples(name).find((candidate) => sameLabels(candidate.labels, labels));
    if (!sample) throw new Error(`no sample ${name}${labelKey(labels)}`);
    return sample.value;
  }

  /** Every series of a histogram family, each with its own labels. */
  histograms(name: string): HistogramSeries[] {
    if (this.type(name) !== 'histogram') throw new Error(`${name} is not a histogram`);
    const series = new Map<string, HistogramSeries>();
    const seriesOf = (labels: Labels): HistogramSeries => {
      const key = labelKey(labels);
      let entry = series.get(key);
      if (!entry) series.set(key, (entry = { labels, buckets: {}, count: NaN, sum: NaN }));
      return entry;
    };
    for (const sample of this.flat.get(`${name}_bucket`)?.metrics ?? []) {
      const all: Labels = sample.labels ?? {};
      if (!Object.hasOwn(all, 'le')) throw new Error(`${name}_bucket sample without le`);
      const { le, ...labels } = all;
      seriesOf(labels).buckets[le] = sampleValue(sample.value);
    }
    for (const sample of this.flat.get(`${name}_count`)?.metrics ?? []) seriesOf(sample.labels ?? {}).count = sampleValue(sample.value);
    for (const sample of this.flat.get(`${name}_sum`)?.metrics ?? []) seriesOf(sample.labels ?? {}).sum = sampleValue(sample.value);
    return [...series.values()];
  }

  /** The histogram series with exactly these labels (besides `le`). */
  histogram(name: string, labels: Labels): HistogramSeries {
    const series = this.histograms(name).find((candidate) => sameLabels(candidate.labels, labels));
    if (!series) throw new Error(`no histogram ${name}${labelKey(labels)}`);
    return series;
  }

  /**
   * Every series of a counter or gauge family that differs from `before`, as `labelKey -> delta`.
   * Comparing this with the expected map asserts the exact deltas *and* that nothing else moved.
   */
  changesSince(before: MetricsSnapshot, name: string): Record<string, number> {
    const changes: Record<string, number> = {};
    const previous = before.samples(name);
    for (const sample of this.samples(name)) {
      const delta = sample.value - (previous.find((candidate) => sameLabels(candidate.labels, sample.labels))?.value ?? 0);
      if (delta !== 0) changes[labelKey(sample.labels)] = delta;
    }
    return changes;
  }

  /** Per histogram series, how many observations were added since `before`, as `labelKey -> delta`. */
  histogramCountChangesSince(before: MetricsSnapshot, name: string): Record<string, number> {
    const changes: Record<string, number> = {};
    for (const series of this.histograms(name)) {
      const delta = series.count - before.histogram(name, series.labels).count;
      if (delta !== 0) changes[labelKey(series.labels)] = delta;
    }
    return changes;
  }

  private typedFamily(name: string): ParsedFamily {
    const family = this.typed.get(name);
    if (!family) throw new Error(`no metric family ${name} in the scrape`);
    return family;
  }
}
