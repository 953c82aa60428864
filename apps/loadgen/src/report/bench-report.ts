import type { GcPauses } from '../processes/probe-protocol.js';
import type { LatencySummary } from './latency-stats.js';
import type { SweepPhase, SystemName } from '../runner/sweep-planner.js';

/** Figures of one instance during one run. Process figures are absent for targets given by URL. */
export interface InstanceRunFigures {
  name: string;
  pid?: number;
  /** Notifications this instance delivered (receipts by its clients, duplicates included). */
  deliveries: number;
  cpuSeconds?: number;
  cpuSecondsPer10kDeliveries?: number;
  eventLoopLagP99Ms?: number;
  eventLoopLagMaxMs?: number;
  /** Garbage collection pauses during the run. */
  gc?: GcPauses;
  rssKb?: number;
}

export interface RunResult {
  system: SystemName;
  phase: SweepPhase;
  runId: string;
  /** 1, or 2+ when the sweep ran the step again after a latency-only failure. */
  attempt: number;
  /** Offered rate, notify commands per second. */
  rate: number;
  durationSeconds: number;
  connections: { expected: number; connectedAtStart: number; connectedAtEnd: number; disconnects: number };
  published: number;
  publishErrors: number;
  /** How late the pacer published against its schedule. */
  publisherLateMs: { p99: number; max: number };
  deliveries: { expected: number; received: number; lost: number; duplicates: number; misdelivered: number; stale: number };
  /** First publish to last receipt. */
  windowSeconds: number;
  deliveriesPerSecond: number;
  /** Publish to client receipt, first copies only. */
  latencyMs: LatencySummary;
  instances: InstanceRunFigures[];
  redisCpuSeconds?: number;
  /** The load generator itself (coordinator and workers): it must not be the bottleneck. */
  loadgen: { cpuSeconds: number; coresUsed: number; workerLagP99Ms: number };
  passed: boolean;
  failures: string[];
  warnings: string[];
}

export interface InstanceSetupFigures {
  name: string;
  pid?: number;
  connections: number;
  rssBeforeKb?: number;
  rssAfterKb?: number;
  heapBeforeKb?: number;
  heapAfterKb?: number;
  rssKbPerConnection?: number;
  heapKbPerConnection?: number;
}

export interface SetupFigures {
  system: SystemName;
  connections: { expected: number; connected: number; failed: number; errors: string[] };
  connectSeconds: number;
  instances: InstanceSetupFigures[];
  /** Averages over instances (idle connections, after a full GC on both sides of the measurement). */
  rssKbPerConnection?: number;
  heapKbPerConnection?: number;
}

export interface SystemSaturation {
  system: SystemName;
  /** Highest passing rate; undefined when even the lowest rate failed. */
  rate?: number;
  /** True when the system never failed: its saturation is at least `rate` (the sweep's maximum). */
  lowerBound: boolean;
}

export interface Comparison {
  /** Herald / baseline. */
  saturationRatio?: number;
  halfBaselineRate?: number;
  /** p99 of each system at that rate, with the median and the best of its runs' own p99s. */
  p99AtHalfBaselineMs?: {
    herald: number;
    baseline: number;
    ratio: number;
    /** What herald/baseline are: the p99 of every delivery of a system's comparison runs together, or the median of its runs' p99s. */
    over: 'all deliveries' | 'median of runs';
    runsPerSystem: number;
    medianOfRuns: { herald: number; baseline: number };
    best: { herald: number; baseline: number };
  };
  rssKbPerConnection?: { herald: number; baseline: number; ratio: number };
  heapKbPerConnection?: { herald: number; baseline: number; ratio: number };
  /** At the half-baseline rate: CPU per 10k deliveries, averaged over instances. */
  cpuSecondsPer10kAtHalfBaseline?: { herald: number; baseline: number; ratio: number };
  /** Absent entries were not measured in this run (e.g. no comparison step with --rates). */
  /** memoryPerConnection judges RSS (the figure), heapPerConnection the retained V8 heap. */
  targetsMet?: { saturation?: boolean; p99AtHalfBaseline?: boolean; memoryPerConnection?: boolean; heapPerConnection?: boolean; zeroLossUpToSaturation: boolean };
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  kernel: string;
  node: string;
  loadAverageAtStart: number[];
  loadAverageAtEnd?: number[];
}

export interface BenchReport {
  kind: 'herald-bench';
  version: 1;
  mode: string;
  startedAt: string;
  finishedAt?: string;
  machine: MachineInfo;
  settings: Record<string, unknown>;
  setups: SetupFigures[];
  /** Unreported load: before the first run (JIT warm-up) and before each comparison run (settle); kept for the record, never compared. */
  warmups?: RunResult[];
  runs: RunResult[];
  saturation: SystemSaturation[];
  comparison: Comparison;
  chartFile?: string;
  profileFiles?: string[];
}
