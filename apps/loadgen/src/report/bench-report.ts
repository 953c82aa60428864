import type { GcPauses } from '../processes/probe-protocol.js';
import type { RedisRunFigures, RedisStorageFigures } from '../processes/redis-info.js';
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
  /** Delivery acknowledgements the clients sent during the run (herald-acks; 0 elsewhere). */
  acksSent?: number;
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
  /** Sum of every instance's CPU over the run (all instances measured), and per notification published. */
  clusterCpuSeconds?: number;
  clusterCpuUsPerNotification?: number;
  redisCpuSeconds?: number;
  /** INFO deltas of the system's Redis over the run. */
  redis?: RedisRunFigures;
  /** Present on storm runs. */
  storm?: StormFigures;
  /** The load generator itself (coordinator and workers): it must not be the bottleneck. */
  loadgen: { cpuSeconds: number; coresUsed: number; workerLagP99Ms: number };
  /**
   * The whole machine during the run (publishing and draining): busy cores, and the cores none of the session's
   * processes used (other work competing with the run), with the 1-minute load average at its end.
   */
  machine?: { busyCores: number; otherCores: number; loadAverage1m: number };
  passed: boolean;
  failures: string[];
  warnings: string[];
}

/** A reconnect storm: every client of one instance reconnected at once, mid-run. */
export interface StormFigures {
  kind: 'close' | 'kill';
  instance: number;
  atSeconds: number;
  /** Clients connected to that instance when it happened. */
  clients: number;
  /** Back and ready by the end of the run (Herald: session.ready received). */
  reconnected: number;
  /** Reconnected with their state recovered (Herald's session.ready.recovered, socket.io's socket.recovered). */
  recovered: number;
  connectErrors: number;
  /** Transport gone to ready, ms (socket.io-client's backoff, 0.5-1.5 s, included). */
  reconnectMs: LatencySummary;
  /** Last reconnection attempt to ready, ms: the handshake and, for Herald, the replay. */
  handshakeMs: LatencySummary;
  /** Ledger figures of the stormed clients alone (the run's totals include every client). */
  lost: number;
  duplicates: number;
  /** After the run: seconds until every client of the system was connected again (undefined: not within the wait). */
  allBackAfterRunSeconds?: number;
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

/** Herald against one other system; ratios are Herald's figure over the other's. */
export interface PairComparison {
  against: SystemName;
  saturationRatio?: number;
  /** p99 of each system at the compared rate, with the median and the best of its runs' own p99s. */
  p99AtCompareRate?: {
    herald: number;
    other: number;
    ratio: number;
    /** The p99 of every delivery of a system's comparison runs together, or the median of its runs' p99s. */
    over: 'all deliveries' | 'median of runs';
    runsPerSystem: number;
    medianOfRuns: { herald: number; other: number };
    best: { herald: number; other: number };
  };
  /** At the compared rate: CPU per 10k deliveries, averaged over instances. */
  cpuSecondsPer10k?: { herald: number; other: number; ratio: number };
  rssKbPerConnection?: { herald: number; other: number; ratio: number };
  heapKbPerConnection?: { herald: number; other: number; ratio: number };
}

export interface TargetVerdict {
  target: string;
  /** Undefined when the run cannot tell (e.g. two saturation lower bounds). */
  met?: boolean;
  detail: string;
}

export interface Comparison {
  /** The bare baseline whose half saturation is the compared rate. */
  reference?: SystemName;
  compareRate?: number;
  pairs: PairComparison[];
  /** Per system: no run up to its saturation lost or duplicated anything. */
  zeroLossUpToSaturation: Partial<Record<SystemName, boolean>>;
  targets: TargetVerdict[];
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
  /** What each system keeps in Redis at the end of the session (MEMORY USAGE of every key). */
  redisStorage?: Partial<Record<SystemName, RedisStorageFigures>>;
  /** Scaling mode: one entry per session (instance count), in order. */
  scaling?: ScalingSession[];
  scalingSummary?: ScalingSummary[];
}

export interface ScalingSession {
  instances: number;
  setups: SetupFigures[];
  runs: RunResult[];
}

/** Per system: cluster CPU per notification at each instance count (median of runs) and last over first. */
export interface ScalingSummary {
  system: SystemName;
  points: Array<{ instances: number; runs: number; clusterCpuUsPerNotification: number; redisCpuUsPerNotification?: number; p50Ms: number; p99Ms: number }>;
  /** Cluster CPU per notification at the largest count over the smallest. */
  ratio?: number;
  /** The same with Redis' CPU added on both sides. */
  ratioWithRedis?: number;
}
