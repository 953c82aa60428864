import type { SystemName } from '../runner/sweep-planner.js';
import type { DeviceSpec } from './workload.js';

export interface ConnectParams {
  system: SystemName;
  namespace: string;
  devices: DeviceSpec[];
  jwtSecret: string;
  /** Handshakes in flight at once per worker. */
  concurrency: number;
  timeoutMs: number;
}

export interface ConnectResult {
  connected: number;
  failed: number;
  /** A few distinct error messages, for the report. */
  errors: string[];
}

export interface BeginRunParams {
  system: SystemName;
  runId: string;
  users: number;
  /** Expected notifications per device, to size the ledgers up front. */
  expectedPerDevice: number;
}

export interface ProgressResult {
  expected: number;
  received: number;
}

export interface WorkerRunSummary {
  devices: number;
  expected: number;
  received: number;
  lost: number;
  duplicates: number;
  misdelivered: number;
  /** Notifications of an earlier run that arrived late. */
  stale: number;
  /** Receipts (duplicates included) per instance index: what each instance delivered. */
  perInstance: number[];
  /** One entry per first receipt, in milliseconds. */
  latenciesMs: Float64Array;
  /** Monotonic microseconds of the last receipt, 0 when none. */
  lastReceiptUs: number;
  disconnects: number;
  connectedAtEnd: number;
  /** This worker's own event loop delay p99 during the run: a loaded load generator shows here. */
  lagP99Ms: number;
}

export type WorkerMethods = {
  connect: { params: ConnectParams; result: ConnectResult };
  beginRun: { params: BeginRunParams; result: { devices: number } };
  progress: { params: { published: number }; result: ProgressResult };
  endRun: { params: { published: number }; result: WorkerRunSummary };
  disconnect: { params: { system: SystemName }; result: { closed: number } };
};
