import type { RedisStorageFigures } from '../processes/redis-info.js';
import type { SystemName } from '../runner/sweep-planner.js';
import type { BenchReport, RunResult, ScalingSummary, SetupFigures } from './bench-report.js';
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
      'cluster us/notif',
      'redis us/notif',
      'loadgen cores',
      'other cores',
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
      fixed(run.clusterCpuUsPerNotification, 0),
      fixed(run.redis?.cpuUsPerNotification, 1),
      fixed(run.loadgen.coresUsed, 2),
      fixed(run.machine?.otherCores, 2),
      run.passed ? 'yes' : `NO: ${run.failures.join(', ')}`,
    ]),
  );
}

/** Medians per system and rate over repeated runs, and Herald/other ratios where both ran. */
export function renderMedians(runs: readonly RunResult[]): string {
  const rates = [...new Set(runs.map((run) => run.rate))].sort((a, b) => a - b);
  const systems = [...new Set(runs.map((run) => run.system))];
  const rows: string[][] = [];
  for (const rate of rates) {
    const figures = (system: SystemName) => {
      const own = runs.filter((run) => run.rate === rate && run.system === system);
      if (own.length === 0) return undefined;
      const cpu = own.flatMap((run) =>
        run.instances.flatMap((instance) => (instance.cpuSecondsPer10kDeliveries === undefined ? [] : [instance.cpuSecondsPer10kDeliveries])),
      );
      const cluster = own.flatMap((run) => (run.clusterCpuUsPerNotification === undefined ? [] : [run.clusterCpuUsPerNotification]));
      return {
        runs: own.length,
        passed: own.filter((run) => run.passed).length,
        p50: median(own.map((run) => run.latencyMs.p50)),
        p99: median(own.map((run) => run.latencyMs.p99)),
        cpu: cpu.length > 0 ? median(cpu) : undefined,
        cluster: cluster.length > 0 ? median(cluster) : undefined,
      };
    };
    const bySystem = new Map(systems.map((system) => [system, figures(system)] as const));
    for (const [system, entry] of bySystem) {
      if (!entry) continue;
      rows.push([system, String(rate), `${entry.passed}/${entry.runs}`, fixed(entry.p50, 2), fixed(entry.p99, 2), fixed(entry.cpu, 3), fixed(entry.cluster, 0)]);
    }
    const herald = bySystem.get('herald');
    for (const [system, entry] of bySystem) {
      if (system === 'herald' || !herald || !entry) continue;
      const ratio = (mine: number | undefined, theirs: number | undefined) => (mine !== undefined && theirs ? fixed(mine / theirs, 2) : '-');
      rows.push([
        `herald/${system}`,
        String(rate),
        '-',
        ratio(herald.p50, entry.p50),
        ratio(herald.p99, entry.p99),
        ratio(herald.cpu, entry.cpu),
        ratio(herald.cluster, entry.cluster),
      ]);
    }
  }
  return renderTable(['medians', 'rate/s', 'passed', 'p50ms', 'p99ms', 'cpu-s/10k per inst', 'cluster us/notif'], rows);
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

const verdict = (value: boolean | undefined): string => (value === undefined ? 'undetermined' : value ? 'MET' : 'NOT MET');

export function renderSummary(report: BenchReport): string {
  const lines: string[] = [];
  for (const entry of report.saturation) {
    const rate = entry.rate === undefined ? 'below the lowest rate tried' : `${entry.rate}/s${entry.lowerBound ? ' or more (never failed)' : ''}`;
    lines.push(`saturation ${entry.system}: ${rate}`);
  }
  const { comparison } = report;
  if (comparison.compareRate !== undefined) lines.push(`compared at ${comparison.compareRate}/s: half of ${comparison.reference ?? '-'}'s saturation`);
  for (const pair of comparison.pairs) {
    const name = `herald/${pair.against}`;
    if (pair.saturationRatio !== undefined) lines.push(`${name} saturation: ${fixed(pair.saturationRatio, 2)}`);
    if (pair.p99AtCompareRate) {
      const { herald, other, ratio, over, runsPerSystem, medianOfRuns, best } = pair.p99AtCompareRate;
      const taken = over === 'all deliveries' ? `all deliveries of ${runsPerSystem} runs each` : `median of ${runsPerSystem} runs each`;
      lines.push(
        `${name} p99 at ${comparison.compareRate ?? '-'}/s (${taken}): ${fixed(herald, 2)} / ${fixed(other, 2)} ms = ${fixed(ratio, 2)} ` +
          `(median of runs ${fixed(medianOfRuns.herald, 2)} / ${fixed(medianOfRuns.other, 2)} ms; best ${fixed(best.herald, 2)} / ${fixed(best.other, 2)} ms)`,
      );
    }
    if (pair.cpuSecondsPer10k) {
      const { herald, other, ratio } = pair.cpuSecondsPer10k;
      lines.push(`${name} CPU s per 10k deliveries per instance there: ${fixed(herald, 3)} / ${fixed(other, 3)} = ${fixed(ratio, 2)}`);
    }
    if (pair.rssKbPerConnection) {
      const { herald, other, ratio } = pair.rssKbPerConnection;
      lines.push(`${name} RSS per idle connection: ${fixed(herald, 1)} / ${fixed(other, 1)} KB = ${fixed(ratio, 2)}`);
    }
    if (pair.heapKbPerConnection) {
      const { herald, other, ratio } = pair.heapKbPerConnection;
      lines.push(`${name} heap per idle connection: ${fixed(herald, 2)} / ${fixed(other, 2)} KB = ${fixed(ratio, 2)}`);
    }
  }
  const zeroLoss = Object.entries(comparison.zeroLossUpToSaturation).map(([system, ok]) => `${system} ${ok ? 'yes' : 'NO'}`);
  if (zeroLoss.length > 0) lines.push(`zero lost and duplicated up to saturation: ${zeroLoss.join(', ')}`);
  if (comparison.targets.length > 0) {
    lines.push('targets:');
    for (const target of comparison.targets) lines.push(`  ${verdict(target.met)}: ${target.target} (${target.detail})`);
  }
  const warnings = report.runs.flatMap((run) => run.warnings.map((warning) => `${run.system} @ ${run.rate}/s: ${warning}`));
  if (warnings.length > 0) lines.push('warnings:', ...warnings.map((warning) => `  ${warning}`));
  const load = (values: readonly number[] | undefined) => (values ? values.map((value) => value.toFixed(2)).join(' ') : '-');
  lines.push(
    `machine: ${report.machine.cpus} x ${report.machine.cpuModel}, load average at start ${load(report.machine.loadAverageAtStart)}, at end ${load(report.machine.loadAverageAtEnd)}`,
  );
  return lines.join('\n');
}

/** Per system: Redis CPU and memory growth per notification (medians over runs), the costliest commands, what is kept. */
export function renderRedis(runs: readonly RunResult[], storage: BenchReport['redisStorage'] = {}): string {
  const systems = [...new Set(runs.map((run) => run.system))];
  const rows = systems.map((system) => {
    const own = runs.filter((run) => run.system === system && run.redis);
    const pick = (value: (run: RunResult) => number | undefined): number | undefined => {
      const values = own.flatMap((run) => {
        const figure = value(run);
        return figure === undefined ? [] : [figure];
      });
      return values.length > 0 ? median(values) : undefined;
    };
    const commands = new Map<string, number[]>();
    for (const run of own)
      for (const command of run.redis?.commands ?? []) commands.set(command.command, [...(commands.get(command.command) ?? []), command.usPerNotification]);
    const top = [...commands.entries()]
      .map(([command, values]) => [command, median(values)] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([command, us]) => `${command} ${us.toFixed(1)}`)
      .join(', ');
    const kept: RedisStorageFigures | undefined = storage[system];
    return [
      system,
      String(own.length),
      fixed(
        pick((run) => run.redis?.cpuUsPerNotification),
        1,
      ),
      fixed(
        pick((run) => run.redis?.memoryBytesPerNotification),
        0,
      ),
      top || '-',
      kept ? String(kept.streamEntries) : '-',
      kept ? fixed(kept.keyBytes / 1024 / 1024, 1) : '-',
      fixed(kept?.bytesPerStreamEntry, 0),
    ];
  });
  return renderTable(['redis', 'runs', 'cpu us/notif', 'memory growth B/notif', 'command us/notif (top 3)', 'entries kept', 'keys MB', 'B per kept entry'], rows);
}

/** Storm runs: what the clients of the stormed instance went through, per system. */
export function renderStorms(runs: readonly RunResult[]): string {
  const storms = runs.filter((run) => run.storm);
  return renderTable(
    [
      'storm',
      'rate/s',
      'kind',
      'clients',
      'back',
      'recovered',
      'lost (stormed)',
      'lost (all)',
      'dup',
      'reconnect p50 ms',
      'p99 ms',
      'handshake p50 ms',
      'p99 ms',
      'redis peak MB',
      'all back after s',
    ],
    storms.map((run) => {
      const storm = run.storm;
      return [
        run.system,
        String(run.rate),
        storm?.kind ?? '-',
        String(storm?.clients ?? '-'),
        String(storm?.reconnected ?? '-'),
        run.system === 'herald' || run.system === 'herald-acks' || run.system === 'streams' ? String(storm?.recovered ?? '-') : 'n/a',
        String(storm?.lost ?? '-'),
        String(run.deliveries.lost),
        String(run.deliveries.duplicates),
        fixed(storm?.reconnectMs.p50, 0),
        fixed(storm?.reconnectMs.p99, 0),
        fixed(storm?.handshakeMs.p50, 1),
        fixed(storm?.handshakeMs.p99, 1),
        fixed(run.redis ? run.redis.usedMemoryPeakBytes / 1024 / 1024 : undefined, 0),
        storm?.allBackAfterRunSeconds === undefined ? 'no' : fixed(storm.allBackAfterRunSeconds, 1),
      ];
    }),
  );
}

export function renderScaling(summary: readonly ScalingSummary[]): string {
  const rows = summary.flatMap((entry) => [
    ...entry.points.map((point) => [
      entry.system,
      String(point.instances),
      String(point.runs),
      fixed(point.clusterCpuUsPerNotification, 0),
      fixed(point.redisCpuUsPerNotification, 1),
      fixed(point.p50Ms, 2),
      fixed(point.p99Ms, 2),
    ]),
    [`${entry.system} last/first`, '-', '-', fixed(entry.ratio, 2), `with redis ${fixed(entry.ratioWithRedis, 2)}`, '-', '-'],
  ]);
  return renderTable(['scaling', 'instances', 'runs', 'cluster CPU us/notif', 'redis us/notif', 'p50ms', 'p99ms'], rows);
}
