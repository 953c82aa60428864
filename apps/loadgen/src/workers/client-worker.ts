/**
 * A load generator worker (started with child_process.fork by WorkerPool): holds a share of the real
 * socket.io-client connections and records every notification they receive. Spreading the clients over
 * several processes keeps the client side from being the bottleneck.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ClientEvents, type NotificationEnvelope, type ServerToClientEvents } from '@herald/contracts';
import { SignJWT } from 'jose';
import { io, type Socket } from 'socket.io-client';
import { serveRpc } from '../ipc/ipc-rpc.js';
import { SampleBuffer } from '../report/latency-stats.js';
import type { SystemName } from '../runner/sweep-planner.js';
import { DeliveryLedger } from './delivery-ledger.js';
import type { BeginRunParams, ConnectParams, ConnectResult, WorkerMethods, WorkerRunSummary } from './worker-protocol.js';
import { BENCH_NOTIFICATION_TYPE, isBenchPayload, monotonicMicros, userIdOf, type DeviceSpec } from './workload.js';

type ClientSocket = Socket<ServerToClientEvents, Record<string, never>>;

interface Device {
  system: SystemName;
  spec: DeviceSpec;
  socket: ClientSocket;
  connected: boolean;
  ledger?: DeliveryLedger;
}

interface Run {
  system: SystemName;
  runId: string;
  devices: Device[];
  latencies: SampleBuffer;
  /** Deliveries by instance index; an instance that delivered nothing yet is a hole. */
  perInstance: Array<number | undefined>;
  stale: number;
  disconnects: number;
  lastReceiptUs: number;
}

const devicesBySystem = new Map<SystemName, Device[]>();
let run: Run | undefined;
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

// Long enough that no session expires during a benchmark (Herald ends sessions at token expiry).
const TOKEN_TTL_SECONDS = 6 * 3600;

async function signToken(userIndex: number, secret: Uint8Array): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userIdOf(userIndex))
    .setIssuedAt(now)
    .setExpirationTime(now + TOKEN_TTL_SECONDS)
    .sign(secret);
}

function onNotification(device: Device, envelope: NotificationEnvelope): void {
  const now = monotonicMicros();
  const current = run;
  if (!current || envelope.type !== BENCH_NOTIFICATION_TYPE || !isBenchPayload(envelope.data)) return;
  const payload = envelope.data;
  // A straggler from an earlier run, or a notification for the system that is not being measured.
  if (device.system !== current.system || payload.run !== current.runId || !device.ledger) {
    current.stale++;
    return;
  }
  current.perInstance[device.spec.instanceIndex] = (current.perInstance[device.spec.instanceIndex] ?? 0) + 1;
  current.lastReceiptUs = now;
  if (device.ledger.record(payload.seq) === 'first') current.latencies.push((now - payload.t) / 1000);
}

async function connectOne(device: DeviceSpec, params: ConnectParams, secret: Uint8Array): Promise<Device> {
  const token = await signToken(device.userIndex, secret);
  const socket: ClientSocket = io(`${device.url}${params.namespace}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: params.timeoutMs,
    auth: { token },
  });
  const entry: Device = { system: params.system, spec: device, socket, connected: false };
  socket.on(ClientEvents.Notification, (envelope) => onNotification(entry, envelope));
  socket.on('disconnect', () => {
    entry.connected = false;
    if (run?.system === entry.system) run.disconnects++;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      entry.connected = true;
      resolve();
    });
    socket.once('connect_error', (error) => {
      socket.disconnect();
      reject(error);
    });
  });
  return entry;
}

async function connect(params: ConnectParams): Promise<ConnectResult> {
  const secret = new TextEncoder().encode(params.jwtSecret);
  const devices: Device[] = [];
  const errors = new Set<string>();
  let failed = 0;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < params.devices.length) {
      const spec = params.devices[next++];
      try {
        devices.push(await connectOne(spec, params, secret));
      } catch (error) {
        failed++;
        if (errors.size < 5) errors.add(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, params.concurrency) }, lane));
  devicesBySystem.set(params.system, [...(devicesBySystem.get(params.system) ?? []), ...devices]);
  return { connected: devices.length, failed, errors: [...errors] };
}

function beginRun(params: BeginRunParams): { devices: number } {
  const devices = devicesBySystem.get(params.system) ?? [];
  for (const device of devices) device.ledger = new DeliveryLedger(device.spec.userIndex, params.users, params.expectedPerDevice + 1);
  run = {
    system: params.system,
    runId: params.runId,
    devices,
    latencies: new SampleBuffer(params.expectedPerDevice * devices.length + 1),
    perInstance: [],
    stale: 0,
    disconnects: 0,
    lastReceiptUs: 0,
  };
  lag.reset();
  return { devices: devices.length };
}

function requireRun(): Run {
  if (!run) throw new Error('no run in progress');
  return run;
}

function progress(published: number): { expected: number; received: number } {
  const current = requireRun();
  let expected = 0;
  let received = 0;
  for (const device of current.devices) {
    expected += device.ledger?.summary(published).expected ?? 0;
    received += device.ledger?.receivedDistinct ?? 0;
  }
  return { expected, received };
}

function endRun(published: number): WorkerRunSummary {
  const current = requireRun();
  const summary: WorkerRunSummary = {
    devices: current.devices.length,
    expected: 0,
    received: 0,
    lost: 0,
    duplicates: 0,
    misdelivered: 0,
    stale: current.stale,
    perInstance: Array.from(current.perInstance, (count) => count ?? 0),
    latenciesMs: current.latencies.toArray(),
    lastReceiptUs: current.lastReceiptUs,
    disconnects: current.disconnects,
    connectedAtEnd: current.devices.filter((device) => device.connected).length,
    lagP99Ms: lag.count > 0 ? Math.max(0, lag.percentile(99) / 1e6 - 10) : 0,
  };
  for (const device of current.devices) {
    const ledger = device.ledger?.summary(published);
    if (!ledger) continue;
    summary.expected += ledger.expected;
    summary.received += ledger.received;
    summary.lost += ledger.lost;
    summary.duplicates += ledger.duplicates;
    summary.misdelivered += ledger.misdelivered;
  }
  run = undefined;
  return summary;
}

function disconnect(system: SystemName): { closed: number } {
  const devices = devicesBySystem.get(system) ?? [];
  for (const device of devices) device.socket.disconnect();
  devicesBySystem.delete(system);
  return { closed: devices.length };
}

serveRpc<WorkerMethods>({
  connect,
  beginRun,
  progress: ({ published }) => progress(published),
  endRun: ({ published }) => endRun(published),
  disconnect: ({ system }) => disconnect(system),
});
