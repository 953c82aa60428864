/**
 * A load generator worker (started with child_process.fork by WorkerPool): holds a share of the real
 * socket.io-client connections and records every notification they receive. Spreading the clients over
 * several processes keeps the client side from being the bottleneck.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AckBatcher } from '@herald/client';
import {
  ClientEvents,
  ClientRequests,
  Feeds,
  type ClientToServerEvents,
  type NotificationEnvelope,
  type ServerToClientEvents,
  type SessionReadyPayload,
} from '@herald/contracts';
import { SignJWT } from 'jose';
import { io, type Socket } from 'socket.io-client';
import { serveRpc } from '../ipc/ipc-rpc.js';
import { SampleBuffer } from '../report/latency-stats.js';
import type { SystemName } from '../runner/sweep-planner.js';
import { DeliveryLedger } from './delivery-ledger.js';
import type { BeginRunParams, ConnectParams, ConnectResult, StormParams, WorkerMethods, WorkerRunSummary, WorkerStormSummary } from './worker-protocol.js';
import { BENCH_NOTIFICATION_TYPE, isBenchPayload, monotonicMicros, userIdOf, type DeviceSpec } from './workload.js';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

interface Device {
  system: SystemName;
  spec: DeviceSpec;
  namespace: string;
  socket: ClientSocket;
  connected: boolean;
  ledger?: DeliveryLedger;
  /** Herald: the cursor of the last notification received, sent back as `since` on every reconnect. */
  cursor?: string;
  /** Set while the device goes through a storm. */
  storm?: DeviceStorm;
  /** herald-acks: acknowledges the highest user-feed cursor received, batched like the SDK (no reply asked). */
  acks?: AckBatcher;
}

interface DeviceStorm {
  /** Where it goes back to. */
  to: { instanceIndex: number; url: string };
  /** Monotonic microseconds: its transport closed (close storms: when the worker closed it). */
  closedUs?: number;
  /** The last reconnection attempt's start. */
  attemptUs?: number;
  readyUs?: number;
  recovered?: boolean;
  connectErrors: number;
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
  acksSent: number;
  /** The devices a storm in this run moved. */
  stormed?: Device[];
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
  // Herald's resume position: the last notification this device got, whichever run it belongs to.
  if (typeof envelope.cursor === 'string') {
    device.cursor = envelope.cursor;
    if (envelope.feed !== Feeds.Broadcast) device.acks?.processed(envelope.cursor);
  }
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

/** A stormed device is back: connected (and, for Herald, its replay done). */
function stormReady(device: Device, recovered: boolean | undefined): void {
  const storm = device.storm;
  if (!storm || storm.readyUs !== undefined) return;
  storm.readyUs = monotonicMicros();
  storm.recovered = recovered;
}

async function connectOne(device: DeviceSpec, params: ConnectParams, secret: Uint8Array): Promise<Device> {
  const token = await signToken(device.userIndex, secret);
  const herald = params.system === 'herald' || params.system === 'herald-acks';
  const socket: ClientSocket = io(`${device.url}${params.namespace}`, {
    transports: ['websocket'],
    reconnection: params.reconnect,
    forceNew: true,
    timeout: params.timeoutMs,
    // Herald's documented client: auth as a function, so every reconnect sends the cursor of the last notification.
    // socket.io's connection state recovery needs nothing: socket.io-client adds its session id and offset itself.
    // (The callback runs once the transport is open, after `entry` exists.)
    auth: herald ? (callback) => callback({ token, since: entry.cursor }) : { token },
  });
  const entry: Device = { system: params.system, spec: device, namespace: params.namespace, socket, connected: false };
  if (params.system === 'herald-acks') {
    entry.acks = new AckBatcher((cursor) => {
      if (!socket.connected) return false;
      socket.emit(ClientRequests.InboxAck, { cursor });
      if (run?.system === entry.system) run.acksSent++;
      return true;
    }, params.ackIntervalMs);
  }
  socket.on(ClientEvents.Notification, (envelope) => onNotification(entry, envelope));
  socket.on('disconnect', () => {
    entry.connected = false;
    if (entry.storm) entry.storm.closedUs ??= monotonicMicros();
    else if (run?.system === entry.system) run.disconnects++;
  });
  socket.on('connect', () => {
    entry.connected = true;
    // socket.io's connection state recovery replays the missed packets right behind the connect packet.
    if (!herald) stormReady(entry, params.system === 'streams' ? socket.recovered : undefined);
  });
  socket.on(ClientEvents.SessionReady, (ready: SessionReadyPayload) => {
    // The protocol's client: a device that got nothing yet resumes from the head it was shown.
    entry.cursor = ready.cursor ?? entry.cursor;
    entry.acks?.resume();
    stormReady(entry, ready.recovered);
  });
  socket.on('connect_error', () => {
    if (entry.storm) entry.storm.connectErrors++;
  });
  socket.io.on('reconnect_attempt', () => {
    if (entry.storm) entry.storm.attemptUs = monotonicMicros();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
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
    acksSent: 0,
  };
  lag.reset();
  return { devices: devices.length };
}

/**
 * Every client of one instance reconnects at once, each to another instance (what a load balancer does when an
 * instance's connections drop). socket.io-client's Manager has no public way to change its target, so its `uri` is
 * set directly: `open()` builds the next engine from it. Then either the worker closes the transports (close storm)
 * or the coordinator kills the instance (kill storm); socket.io-client reconnects with its default backoff.
 */
function storm(params: StormParams): { clients: number } {
  const current = requireRun();
  const others = params.urls.map((url, instanceIndex) => ({ instanceIndex, url })).filter((entry) => entry.instanceIndex !== params.instanceIndex);
  if (others.length === 0) throw new Error('a storm needs at least two instances');
  const devices = current.devices.filter((device) => device.connected && device.spec.instanceIndex === params.instanceIndex);
  const closedUs = monotonicMicros();
  devices.forEach((device, index) => {
    const to = others[index % others.length];
    device.storm = { to, connectErrors: 0 };
    (device.socket.io as unknown as { uri: string }).uri = `${to.url}${device.namespace}`;
    // From now on it is a client of that instance, whenever it gets there (even after the run).
    device.spec = { ...device.spec, instanceIndex: to.instanceIndex, url: to.url };
  });
  if (params.close) {
    for (const device of devices) {
      if (device.storm) device.storm.closedUs = closedUs;
      device.socket.io.engine.close();
    }
  }
  current.stormed = [...(current.stormed ?? []), ...devices];
  return { clients: devices.length };
}

function stormSummary(stormed: readonly Device[], published: number): WorkerStormSummary {
  const reconnectMs = new SampleBuffer(stormed.length + 1);
  const handshakeMs = new SampleBuffer(stormed.length + 1);
  const summary: WorkerStormSummary = {
    clients: stormed.length,
    reconnected: 0,
    recovered: 0,
    connectErrors: 0,
    reconnectMs: new Float64Array(0),
    handshakeMs: new Float64Array(0),
    lost: 0,
    duplicates: 0,
  };
  for (const device of stormed) {
    const storm = device.storm;
    if (storm) {
      summary.connectErrors += storm.connectErrors;
      if (storm.readyUs !== undefined) {
        summary.reconnected++;
        if (storm.recovered) summary.recovered++;
        if (storm.closedUs !== undefined) reconnectMs.push((storm.readyUs - storm.closedUs) / 1000);
        if (storm.attemptUs !== undefined) handshakeMs.push((storm.readyUs - storm.attemptUs) / 1000);
      }
    }
    const ledger = device.ledger?.summary(published);
    summary.lost += ledger?.lost ?? 0;
    summary.duplicates += ledger?.duplicates ?? 0;
    device.storm = undefined;
  }
  summary.reconnectMs = reconnectMs.toArray();
  summary.handshakeMs = handshakeMs.toArray();
  return summary;
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
    acksSent: current.acksSent,
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
  if (current.stormed) summary.storm = stormSummary(current.stormed, published);
  run = undefined;
  return summary;
}

function disconnect(system: SystemName): { closed: number } {
  const devices = devicesBySystem.get(system) ?? [];
  for (const device of devices) {
    device.acks?.cancel();
    device.socket.disconnect();
  }
  devicesBySystem.delete(system);
  return { closed: devices.length };
}

serveRpc<WorkerMethods>({
  connect,
  beginRun,
  progress: ({ published }) => progress(published),
  endRun: ({ published }) => endRun(published),
  disconnect: ({ system }) => disconnect(system),
  storm,
  connected: ({ system }) => {
    const devices = devicesBySystem.get(system) ?? [];
    return { connected: devices.filter((device) => device.connected).length, devices: devices.length };
  },
});
