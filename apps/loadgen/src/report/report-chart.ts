import type { BenchReport } from './bench-report.js';
import { renderLatencyChart, type ChartSeries } from './latency-chart.js';
import type { SystemName } from '../runner/sweep-planner.js';

const COLORS: Record<SystemName, string> = {
  herald: '#1f6fd1',
  'herald-acks': '#6aa5ef',
  baseline: '#e07b00',
  local: '#2a9d3a',
  streams: '#b8327a',
  previous: '#777777',
};

/** p50 and p99 against rate for every system of a report; comparison runs as separate squares. */
export function renderReportChart(report: BenchReport): string {
  const settings = report.settings as { instances?: number; connections?: number; users?: number; durationSeconds?: number; maxP99Ms?: number };
  const systems = [...new Set(report.runs.map((run) => run.system))];
  const series: ChartSeries[] = [];
  for (const system of systems) {
    const runs = report.runs.filter((run) => run.system === system && run.latencyMs.count > 0);
    for (const [stat, dashed] of [
      ['p50', true],
      ['p99', false],
    ] as const) {
      series.push({
        label: `${system} ${stat}`,
        color: COLORS[system],
        dashed,
        points: runs.map((run) => ({ x: run.rate, y: run.latencyMs[stat], failed: !run.passed, separate: run.phase === 'compare' })),
      });
    }
  }
  const limit = settings.maxP99Ms ?? 100;
  return renderLatencyChart({
    title: 'Delivery latency against publish rate',
    subtitle: `${settings.instances} instances, ${settings.connections} connections, ${settings.users} users, ${settings.durationSeconds} s per run; ${report.machine.cpus} cores (${report.startedAt.slice(0, 10)})`,
    xLabel: 'notify.user commands per second (log)',
    yLabel: 'publish to client receipt, ms (log)',
    series,
    limit: { y: limit, label: `p99 limit ${limit} ms` },
    separateNote: report.runs.some((run) => run.phase === 'compare') ? `square: at half ${report.comparison.reference ?? 'baseline'} sat.` : undefined,
    markers: report.saturation.flatMap((entry) => (entry.rate === undefined ? [] : [{ x: entry.rate, label: `${entry.system} sat.`, color: COLORS[entry.system] }])),
  });
}
