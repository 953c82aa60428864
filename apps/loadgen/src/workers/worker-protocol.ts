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
  /**
   * socket.io-client's own reconnection (default delays: first attempt after 0.5-1.5 s), for reconnect storms; off
   * otherwise, so a dropped client stays visible as one.
   */
  reconnect: boolean;
  /** herald-acks: at most one delivery acknowledgement per client per this many ms (the SDK's default: 250). */
  ackIntervalMs: number;
}

/** The SDK's `ackIntervalMs` (libs/client). */
export { DEFAULT_ACK_INTERVAL_MS } from '@herald/client';

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

export interface StormParams {
  system: SystemName;
  /** Every client connected to this instance reconnects, each to one of the other instances (round robin). */
  instanceIndex: number;
  /** Base URLs of all the system's instances, by index. */
  urls: string[];
  /** Close the clients' transports now (else the instance is about to be killed: they see it go). */
  close: boolean;
}

/** What the clients of one instance went through in a storm, as seen by one worker. */
export interface WorkerStormSummary {
  /** Clients that were connected to the stormed instance. */
  clients: number;
  /** Back and ready: connected (Herald: session.ready received). */
  reconnected: number;
  /** Reconnected with their state recovered: Herald's session.ready.recovered, socket.io's socket.recovered. */
  recovered: number;
  /** Refused handshakes (connect_error) while reconnecting. */
  connectErrors: number;
  /** Transport gone to ready, per reconnected client, ms. */
  reconnectMs: Float64Array;
  /** Last reconnection attempt (after socket.io-client's backoff) to ready, ms. */
  handshakeMs: Float64Array;
  /** Ledger figures of the stormed clients alone. */
  lost: number;
  duplicates: number;
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
  /** `inbox.ack` packets sent during the run (herald-acks clients). */
  acksSent: number;
  connectedAtEnd: number;
  /** This worker's own event loop delay p99 during the run: a loaded load generator shows here. */
  lagP99Ms: number;
  /** Present when the run had a storm. */
  storm?: WorkerStormSummary;
}

export type WorkerMethods = {
  connect: { params: ConnectParams; result: ConnectResult };
  beginRun: { params: BeginRunParams; result: { devices: number } };
  progress: { params: { published: number }; result: ProgressResult };
  endRun: { params: { published: number }; result: WorkerRunSummary };
  disconnect: { params: { system: SystemName }; result: { closed: number } };
  storm: { params: StormParams; result: { clients: number } };
  connected: { params: { system: SystemName }; result: { connected: number; devices: number } };
};
