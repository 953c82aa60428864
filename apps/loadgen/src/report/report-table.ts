import type { BenchReport, RunResult, SetupFigures } from './bench-report.js';
import { median } from './latency-stats.js';

const fixed = (value: number | undefined, digits = 1): string => (value === undefined || Number.isNaN(value) ? '-' : value.toFixed(digits));

/** A plain text table: header row, then rows, columns padded to their widest cell (numbers right-aligned). */
export function renderTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === 0 || /^[a-z]/i.test(cell) ? cell.padEnd(widths[column]) : cell.padStart(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export function renderRuns(runs: readonly RunResult[]): string {
  return renderTable(
    [
      'system',
      'rate/s',
      'phase',
      'conn',
      'expected',
      'received',
      'lost',
      'dup',
      'dlv/s',
      'p50ms',
      'p90ms',
      'p99ms',
      'maxms',
      'cpu-s/10k per inst',
      'lag p99 ms',
      'loadgen cores',
      'ok',
    ],
    runs.map((run) => [
      run.system,
      String(run.rate),
      run.attempt > 1 ? `${run.phase} #${run.attempt}` : run.phase,
      String(run.connections.connectedAtStart),
      String(run.deliveries.expected),
      String(run.deliveries.received),
      String(run.deliveries.lost),
      String(run.deliveries.duplicates),
      fixed(run.deliveriesPerSecond, 0),
      fixed(run.latencyMs.p50, 2),
      fixed(run.latencyMs.p90, 2),
      fixed(run.latencyMs.p99, 2),
      fixed(run.latencyMs.max, 1),
      run.instances.map((instance) => fixed(instance.cpuSecondsPer10kDeliveries, 2)).join('/'),
      run.instances.map((instance) => fixed(instance.eventLoopLagP99Ms, 1)).join('/'),
      fixed(run.loadgen.coresUsed, 2),
      run.passed ? 'yes' : `NO: ${run.failures.join(', ')}`,
    ]),
  );
}

/** Medians per system and rate over repeated runs, and Herald/baseline ratios where both ran. */
export function renderMedians(runs: readonly RunResult[]): string {
  const rates = [...new Set(runs.map((run) => run.rate))].sort((a, b) => a - b);
  const rows: string[][] = [];
  for (const rate of rates) {
    const figures = (system: string) => {
      const own = runs.filter((run) => run.rate === rate && run.system === system);
      if (own.length === 0) return undefined;
      const cpu = own.flatMap((run) =>
        run.instances.flatMap((instance) => (instance.cpuSecondsPer10kDeliveries === undefined ? [] : [instance.cpuSecondsPer10kDeliveries])),
      );
      return {
        runs: own.length,
        passed: own.filter((run) => run.passed).length,
        p50: median(own.map((run) => run.latencyMs.p50)),
        p99: median(own.map((run) => run.latencyMs.p99)),
        cpu: cpu.length > 0 ? median(cpu) : undefined,
      };
    };
    const herald = figures('herald');
    const baseline = figures('baseline');
    for (const [system, entry] of [
      ['herald', herald],
      ['baseline', baseline],
    ] as const) {
      if (!entry) continue;
      rows.push([system, String(rate), `${entry.passed}/${entry.runs}`, fixed(entry.p50, 2), fixed(entry.p99, 2), fixed(entry.cpu, 3)]);
    }
    if (herald && baseline) {
      rows.push([
        'herald/baseline',
        String(rate),
        '-',
        fixed(herald.p50 / baseline.p50, 2),
        fixed(herald.p99 / baseline.p99, 2),
        herald.cpu && baseline.cpu ? fixed(herald.cpu / baseline.cpu, 2) : '-',
      ]);
    }
  }
  return renderTable(['medians', 'rate/s', 'passed', 'p50ms', 'p99ms', 'cpu-s/10k per inst'], rows);
}

export function renderSetups(setups: readonly SetupFigures[]): string {
  return renderTable(
    ['system', 'connected', 'failed', 'connect s', 'RSS before KB', 'RSS after KB', 'RSS KB/conn', 'heap KB/conn'],
    setups.map((setup) => [
      setup.system,
      `${setup.connections.connected}/${setup.connections.expected}`,
      String(setup.connections.failed),
      fixed(setup.connectSeconds, 1),
      setup.instances.map((instance) => instance.rssBeforeKb ?? '-').join('/'),
      setup.instances.map((instance) => instance.rssAfterKb ?? '-').join('/'),
      fixed(setup.rssKbPerConnection, 1),
      fixed(setup.heapKbPerConnection, 1),
    ]),
  );
}

export function renderSummary(report: BenchReport): string {
  const lines: string[] = [];
  for (const entry of report.saturation) {
    const rate = entry.rate === undefined ? 'below the lowest rate tried' : `${entry.rate}/s${entry.lowerBound ? ' or more (never failed)' : ''}`;
    lines.push(`saturation ${entry.system}: ${rate}`);
  }
  const { comparison } = report;
  if (comparison.saturationRatio !== undefined) lines.push(`saturation herald/baseline: ${fixed(comparison.saturationRatio, 2)}`);
  if (comparison.p99AtHalfBaselineMs) {
    const { herald, baseline, ratio, over, runsPerSystem, medianOfRuns, best } = comparison.p99AtHalfBaselineMs;
    const taken = over === 'all deliveries' ? `all deliveries of ${runsPerSystem} runs each` : `median of ${runsPerSystem} runs each`;
    lines.push(
      `p99 at half the baseline's saturation (${comparison.halfBaselineRate}/s, ${taken}): herald ${fixed(herald, 2)} ms, ` +
        `baseline ${fixed(baseline, 2)} ms, ratio ${fixed(ratio, 2)} (median of runs: ${fixed(medianOfRuns.herald, 2)} / ${fixed(medianOfRuns.baseline, 2)} ms; ` +
        `best runs: ${fixed(best.herald, 2)} / ${fixed(best.baseline, 2)} ms)`,
    );
  }
  if (comparison.cpuSecondsPer10kAtHalfBaseline) {
    const { herald, baseline, ratio } = comparison.cpuSecondsPer10kAtHalfBaseline;
    lines.push(`CPU s per 10k deliveries per instance there: herald ${fixed(herald, 3)}, baseline ${fixed(baseline, 3)}, ratio ${fixed(ratio, 2)}`);
  }
  if (comparison.rssKbPerConnection) {
    const { herald, baseline, ratio } = comparison.rssKbPerConnection;
    lines.push(`RSS per idle connection: herald ${fixed(herald, 1)} KB, baseline ${fixed(baseline, 1)} KB, ratio ${fixed(ratio, 2)}`);
  }
  if (comparison.heapKbPerConnection) {
    const { herald, baseline, ratio } = comparison.heapKbPerConnection;
    lines.push(`heap per idle connection: herald ${fixed(herald, 3)} KB, baseline ${fixed(baseline, 3)} KB, ratio ${fixed(ratio, 3)}`);
  }
  if (comparison.targetsMet) {
    const met = comparison.targetsMet;
    const verdict = (value: boolean | undefined): string => (value === undefined ? 'not measured' : value ? 'MET' : 'NOT MET');
    lines.push(
      `targets: saturation >= baseline ${verdict(met.saturation)}; p99 at half baseline saturation <= baseline ${verdict(met.p99AtHalfBaseline)}; ` +
        `memory per connection <= baseline: RSS ${verdict(met.memoryPerConnection)}, heap ${verdict(met.heapPerConnection)}; zero loss/duplicates up to saturation ${verdict(met.zeroLossUpToSaturation)}`,
    );
  }
  const warnings = report.runs.flatMap((run) => run.warnings.map((warning) => `${run.system} @ ${run.rate}/s: ${warning}`));
  if (warnings.length > 0) lines.push('warnings:', ...warnings.map((warning) => `  ${warning}`));
  lines.push(
    `machine: ${report.machine.cpus} x ${report.machine.cpuModel}, load average at start ${report.machine.loadAverageAtStart.map((value) => value.toFixed(2)).join(' ')}`,
  );
  return lines.join('\n');
}
