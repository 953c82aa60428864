import type { RunResult, ScalingSession, ScalingSummary } from '../report/bench-report.js';
import { median } from '../report/latency-stats.js';
import type { SystemName } from './sweep-planner.js';

const medianOf = (values: readonly number[]): number | undefined => (values.length > 0 ? median(values) : undefined);

/**
 * Cluster CPU per notification (every instance's CPU over a run, divided by the notifications published) per system
 * and instance count, as the median of all runs at that count (sessions with the same count are pooled), and the
 * ratio of the largest count to the smallest. Redis' CPU is reported beside it and added in the second ratio.
 */
export function summarizeScaling(sessions: readonly ScalingSession[]): ScalingSummary[] {
  const runs: Array<RunResult & { sessionInstances: number }> = sessions.flatMap((session) =>
    session.runs.map((run) => ({ ...run, sessionInstances: session.instances })),
  );
  const systems = [...new Set(runs.map((run) => run.system))];
  const counts = [...new Set(sessions.map((session) => session.instances))].sort((a, b) => a - b);
  return systems.map((system: SystemName): ScalingSummary => {
    const points = counts.flatMap((instances) => {
      const own = runs.filter((run) => run.system === system && run.sessionInstances === instances && run.clusterCpuUsPerNotification !== undefined);
      const cluster = medianOf(own.map((run) => run.clusterCpuUsPerNotification ?? 0));
      if (cluster === undefined) return [];
      return [
        {
          instances,
          runs: own.length,
          clusterCpuUsPerNotification: cluster,
          redisCpuUsPerNotification: medianOf(own.flatMap((run) => (run.redis ? [run.redis.cpuUsPerNotification] : []))),
          p50Ms: median(own.map((run) => run.latencyMs.p50)),
          p99Ms: median(own.map((run) => run.latencyMs.p99)),
        },
      ];
    });
    const first = points.at(0);
    const last = points.at(-1);
    const summary: ScalingSummary = { system, points };
    if (first && last && last.instances !== first.instances) {
      summary.ratio = last.clusterCpuUsPerNotification / first.clusterCpuUsPerNotification;
      if (first.redisCpuUsPerNotification !== undefined && last.redisCpuUsPerNotification !== undefined) {
        summary.ratioWithRedis =
          (last.clusterCpuUsPerNotification + last.redisCpuUsPerNotification) / (first.clusterCpuUsPerNotification + first.redisCpuUsPerNotification);
      }
    }
    return summary;
  });
}
