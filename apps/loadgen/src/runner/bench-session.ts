import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { NOTIFICATIONS_NAMESPACE } from '@herald/contracts';
import { createClient, type RedisClientType } from 'redis';
import type { LoadgenOptions, StormSettings } from '../config/loadgen-options.js';
import { rssKbOf, tryCpuSecondsOf, tryMachineBusySeconds } from '../processes/proc-stats.js';
import type { ProbeSample } from '../processes/probe-protocol.js';
import { parseRedisInfo, redisRunFigures, storageFigures, type RedisInfoSample, type RedisStorageFigures } from '../processes/redis-info.js';
import type { NotificationPublisher } from '../publish/notification-publisher.js';
import { publishAtRate } from '../publish/rate-pacer.js';
import type { InstanceRunFigures, InstanceSetupFigures, RunResult, SetupFigures, StormFigures } from '../report/bench-report.js';
import { summarizeLatencies } from '../report/latency-stats.js';
import { remoteTarget, startLocalTarget, type TargetSystem } from '../targets/target-system.js';
import { WorkerPool } from '../workers/worker-pool.js';
import type { WorkerRunSummary } from '../workers/worker-protocol.js';
import { layoutDevices } from '../workers/workload.js';
import type { SweepPhase, SystemName } from './sweep-planner.js';

export type Log = (line: string) => void;

/** Stop draining when nothing arrived for this long: what has not come by then is lost. */
const DRAIN_IDLE_MS = 3000;
/** Other work on the machine above this many cores during a run is worth a warning: it competed with the run. */
const OTHER_WORK_WARNING_CORES = 0.2;

/** INFO must answer quickly; reading every key's size may take a while on a large dataset. */
const REDIS_QUERY_TIMEOUT_MS = 5000;
const REDIS_STORAGE_TIMEOUT_MS = 120_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer from Redis in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A storm in a run: which instance's clients reconnect, how, and when. */
export interface RunStorm extends StormSettings {
  instanceIndex: number;
}

export interface SessionHooks {
  /** Runs right before publishing starts / right after draining ends, on every local instance (profiling). */
  beforeLoad?: (target: TargetSystem) => Promise<void>;
  afterLoad?: (target: TargetSystem, windows: Array<{ startUs: number; endUs: number } | undefined>) => Promise<void>;
  nodeFlagsFor?: (system: SystemName, index: number) => string[];
  /** Runs right before / right after a system's clients connect (heap snapshots). */
  beforeConnect?: (target: TargetSystem) => Promise<void>;
  afterConnect?: (target: TargetSystem, connectionsPerInstance: number[]) => Promise<void>;
  /** Every latency sample of a finished run, one chunk per client worker (pooling the comparison runs). */
  latencies?: (run: RunResult, latenciesMs: readonly Float64Array[]) => void;
}

/**
 * One benchmark session: both systems started (or reached by URL), clients connected once per system and kept,
 * then any number of runs. Client connections stay open across runs, so each run measures delivery only.
 */
export class BenchSession {
  /** Sessions open right now: what a signal must close before the harness exits (no orphaned servers). */
  static readonly live = new Set<BenchSession>();
  private readonly targets = new Map<SystemName, TargetSystem>();
  private readonly publishers = new Map<SystemName, NotificationPublisher>();
  /** One plain client per system's Redis, for INFO and MEMORY USAGE. */
  private readonly redisClients = new Map<SystemName, RedisClientType>();
  readonly setups: SetupFigures[] = [];
  private runCounter = 0;

  private constructor(
    private readonly options: LoadgenOptions,
    private readonly workers: WorkerPool,
    private readonly log: Log,
    private readonly hooks: SessionHooks,
  ) {}

  static async open(options: LoadgenOptions, log: Log, hooks: SessionHooks = {}): Promise<BenchSession> {
    const session = new BenchSession(options, WorkerPool.start(options.workers), log, hooks);
    BenchSession.live.add(session);
    try {
      for (const system of options.systems) await session.startTarget(system);
      // Connect one system at a time so each one's memory is measured while the other sits idle.
      for (const system of options.systems) session.setups.push(await session.connectClients(system));
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  target(system: SystemName): TargetSystem {
    const target = this.targets.get(system);
    if (!target) throw new Error(`${system} is not part of this session`);
    return target;
  }

  private async startTarget(system: SystemName): Promise<void> {
    const remote = this.options.remote[system];
    const { nodeFlagsFor } = this.hooks;
    this.log(remote ? `${system}: targeting ${remote.urls.join(', ')}` : `${system}: starting redis-server and ${this.options.instances} instance(s)`);
    const target = remote
      ? await remoteTarget(system, remote.urls, remote.redisUrl)
      : await startLocalTarget(system, {
          instances: this.options.instances,
          jwtSecret: this.options.jwtSecret,
          nodeFlags: this.options.nodeFlags,
          heraldEnv: this.options.heraldEnv,
          previousDir: this.options.previousDir,
          previousStream: this.options.previousStream,
          nodeFlagsFor: nodeFlagsFor ? (index: number) => nodeFlagsFor(system, index) : undefined,
        });
    this.targets.set(system, target);
    this.publishers.set(system, await target.createPublisher());
    // Offline, a command fails at once instead of waiting for a Redis that may have died.
    const redis: RedisClientType = createClient({ url: target.redisUrl, disableOfflineQueue: true });
    redis.on('error', () => undefined);
    await redis.connect();
    this.redisClients.set(system, redis);
  }

  private async redisInfo(system: SystemName): Promise<RedisInfoSample | undefined> {
    const client = this.redisClients.get(system);
    if (!client) return undefined;
    try {
      const text = await withTimeout(client.sendCommand(['INFO', 'memory', 'cpu', 'commandstats']), REDIS_QUERY_TIMEOUT_MS, 'INFO');
      return typeof text === 'string' ? parseRedisInfo(text) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every key the system keeps in its Redis with its MEMORY USAGE (all samples), and the entries of its streams. */
  async redisStorage(system: SystemName): Promise<RedisStorageFigures | undefined> {
    const client = this.redisClients.get(system);
    if (!client) return undefined;
    const keys: string[] = [];
    const deadline = Date.now() + REDIS_STORAGE_TIMEOUT_MS;
    const inTime = <T>(promise: Promise<T>): Promise<T> => withTimeout(promise, Math.max(1, deadline - Date.now()), 'reading Redis storage');
    for await (const batch of client.scanIterator({ COUNT: 1000 })) {
      keys.push(...batch);
      if (Date.now() > deadline) throw new Error('reading Redis storage: timed out');
    }
    const figures: Array<{ key: string; bytes: number; entries: number }> = [];
    for (let start = 0; start < keys.length; start += 500) {
      const chunk = keys.slice(start, start + 500);
      const [types, sizes] = await inTime(
        Promise.all([Promise.all(chunk.map((key) => client.type(key))), Promise.all(chunk.map((key) => client.sendCommand(['MEMORY', 'USAGE', key, 'SAMPLES', '0'])))]),
      );
      const entries = await inTime(Promise.all(chunk.map((key, index) => (types[index] === 'stream' ? client.xLen(key) : Promise.resolve(0)))));
      chunk.forEach((key, index) => figures.push({ key, bytes: Number(sizes[index] ?? 0), entries: entries[index] }));
    }
    const info = await this.redisInfo(system);
    return storageFigures(info?.usedMemory ?? 0, figures);
  }

  /** The probe's memory-reducing collection on every instance the harness started (a remote target is left alone). */
  async collectGarbage(system: SystemName): Promise<void> {
    await Promise.all(this.target(system).instances.map(async ({ process: instance }) => instance?.probe({ op: 'gc' })));
  }

  private async memory(target: TargetSystem): Promise<Array<{ rssKb?: number; heapKb?: number }>> {
    return Promise.all(
      target.instances.map(async ({ process: instance }) => {
        if (!instance?.pid) return {};
        await instance.probe({ op: 'gc' });
        const sample = await instance.sample();
        return { rssKb: rssKbOf(instance.pid), heapKb: Math.round(sample.heapUsedBytes / 1024) };
      }),
    );
  }

  private async connectClients(system: SystemName): Promise<SetupFigures> {
    const target = this.target(system);
    const urls = target.instances.map((instance) => instance.url);
    const devices = layoutDevices(this.options.connections, this.options.users, urls);
    const before = await this.memory(target);
    await this.hooks.beforeConnect?.(target);
    this.log(`${system}: connecting ${devices.length} clients (${this.options.users} users) over ${this.options.workers} worker(s)`);
    const started = performance.now();
    const result = await this.workers.connect(
      system,
      NOTIFICATIONS_NAMESPACE,
      devices,
      this.options.jwtSecret,
      this.options.connectTimeoutSeconds * 1000,
      // Storm clients reconnect by themselves, as real ones do; elsewhere a dropped client stays dropped and visible.
      this.options.mode === 'storm',
      this.options.ackIntervalMs,
    );
    const connectSeconds = (performance.now() - started) / 1000;
    this.log(
      `${system}: ${result.connected} connected, ${result.failed} failed in ${connectSeconds.toFixed(1)} s${result.errors.length ? ` (${result.errors.join('; ')})` : ''}`,
    );
    const after = await this.memory(target);
    await this.hooks.afterConnect?.(
      target,
      urls.map((_, index) => devices.filter((device) => device.instanceIndex === index).length),
    );
    const instances: InstanceSetupFigures[] = target.instances.map((instance, index) => {
      const connections = devices.filter((device) => device.instanceIndex === index).length;
      const rssBefore = before[index]?.rssKb;
      const rssAfter = after[index]?.rssKb;
      const heapBefore = before[index]?.heapKb;
      const heapAfter = after[index]?.heapKb;
      return {
        name: `${system}-${index}`,
        pid: instance.process?.pid,
        connections,
        rssBeforeKb: rssBefore,
        rssAfterKb: rssAfter,
        heapBeforeKb: heapBefore,
        heapAfterKb: heapAfter,
        rssKbPerConnection: rssBefore !== undefined && rssAfter !== undefined && connections > 0 ? (rssAfter - rssBefore) / connections : undefined,
        heapKbPerConnection: heapBefore !== undefined && heapAfter !== undefined && connections > 0 ? (heapAfter - heapBefore) / connections : undefined,
      };
    });
    const mean = (values: Array<number | undefined>): number | undefined => {
      const known = values.filter((value): value is number => value !== undefined);
      return known.length === values.length && known.length > 0 ? known.reduce((sum, value) => sum + value, 0) / known.length : undefined;
    };
    return {
      system,
      connections: { expected: devices.length, connected: result.connected, failed: result.failed, errors: result.errors },
      connectSeconds,
      instances,
      rssKbPerConnection: mean(instances.map((instance) => instance.rssKbPerConnection)),
      heapKbPerConnection: mean(instances.map((instance) => instance.heapKbPerConnection)),
    };
  }

  /** CPU seconds of every process this session runs: all systems' instances and Redis, the load generator. */
  private sessionCpuSeconds(): number {
    let total = this.loadgenCpuSeconds();
    for (const target of this.targets.values()) {
      for (const instance of target.instances) total += tryCpuSecondsOf(instance.process?.pid) ?? 0;
      total += tryCpuSecondsOf(target.redisPid) ?? 0;
    }
    return total;
  }

  private loadgenCpuSeconds(): number {
    const own = process.cpuUsage();
    const workers = this.workers.pids.reduce((sum, pid) => sum + (tryCpuSecondsOf(pid) ?? 0), 0);
    return (own.user + own.system) / 1e6 + workers;
  }

  /**
   * Publishes at `rate` for the configured duration, waits for deliveries to drain, and reports. With `storm`, every
   * client of one instance reconnects at `storm.atSeconds` while publishing goes on (a killed instance is restarted
   * after the run, with no clients: they all moved).
   */
  async run(system: SystemName, rate: number, phase: SweepPhase, attempt = 1, durationSeconds = this.options.durationSeconds, storm?: RunStorm): Promise<RunResult> {
    const target = this.target(system);
    const publisher = this.publishers.get(system);
    const setup = this.setups.find((entry) => entry.system === system);
    if (!publisher || !setup) throw new Error(`${system} is not part of this session`);
    const { users } = this.options;
    const runId = `${system}-${++this.runCounter}-${randomBytes(3).toString('hex')}`;
    const expectedPerDevice = Math.ceil((rate * durationSeconds) / users) + 1;
    const connectedAtStart = await this.workers.beginRun(system, runId, users, expectedPerDevice);

    const pids = target.instances.map((instance) => instance.process?.pid);
    const cpuBefore = pids.map(tryCpuSecondsOf);
    const redisBefore = tryCpuSecondsOf(target.redisPid);
    const redisInfoBefore = await this.redisInfo(system);
    const loadgenBefore = this.loadgenCpuSeconds();
    const machineBefore = tryMachineBusySeconds();
    const sessionBefore = this.sessionCpuSeconds();
    const machineSince = performance.now();
    const startSamples = await this.sampleInstances(target); // also restarts the event loop histograms
    await this.hooks.beforeLoad?.(target);

    const stormed = storm ? this.stormAt(target, storm) : undefined;
    const pace = await publishAtRate(publisher, { rate, durationSeconds, users, runId, padBytes: this.options.payloadBytes });
    const stormedClients = await stormed;
    // After a storm, wait for the whole drain timeout if need be: resumed clients catch up late, by design.
    const progress = await this.drain(pace.published, storm ? this.options.drainTimeoutSeconds * 1000 : DRAIN_IDLE_MS);

    const endSamples = await this.sampleInstances(target);
    await this.hooks.afterLoad?.(
      target,
      startSamples.map((start, index) => (start && endSamples[index] ? { startUs: start.hrtimeUs, endUs: endSamples[index].hrtimeUs } : undefined)),
    );
    const cpuAfter = pids.map(tryCpuSecondsOf);
    const redisAfter = tryCpuSecondsOf(target.redisPid);
    const redisInfoAfter = await this.redisInfo(system);
    const loadgenCpu = this.loadgenCpuSeconds() - loadgenBefore;
    const machineAfter = tryMachineBusySeconds();
    const sessionCpu = this.sessionCpuSeconds() - sessionBefore;
    const machineSeconds = (performance.now() - machineSince) / 1000;
    const summaries = await this.workers.endRun(pace.published);

    const sum = (pick: (summary: (typeof summaries)[number]) => number): number => summaries.reduce((total, summary) => total + pick(summary), 0);
    const lastReceiptUs = Math.max(0, ...summaries.map((summary) => summary.lastReceiptUs));
    const windowSeconds = Math.max(pace.endUs, lastReceiptUs) / 1e6 - pace.startUs / 1e6;
    const deliveries = {
      expected: sum((summary) => summary.expected),
      received: sum((summary) => summary.received),
      lost: sum((summary) => summary.lost),
      duplicates: sum((summary) => summary.duplicates),
      misdelivered: sum((summary) => summary.misdelivered),
      stale: sum((summary) => summary.stale),
    };
    const latencyMs = summarizeLatencies(summaries.map((summary) => summary.latenciesMs));
    const instances: InstanceRunFigures[] = target.instances.map((_, index) => {
      const delivered = sum((summary) => summary.perInstance[index] ?? 0);
      const before = cpuBefore[index];
      const after = cpuAfter[index];
      const cpuSeconds = before !== undefined && after !== undefined ? after - before : undefined;
      const pid = pids[index];
      return {
        name: `${system}-${index}`,
        pid,
        deliveries: delivered,
        cpuSeconds,
        cpuSecondsPer10kDeliveries: cpuSeconds !== undefined && delivered > 0 ? (cpuSeconds / delivered) * 10_000 : undefined,
        eventLoopLagP99Ms: endSamples[index]?.lag.p99Ms,
        eventLoopLagMaxMs: endSamples[index]?.lag.maxMs,
        gc: endSamples[index]?.gc,
        rssKb: pid !== undefined ? safeRss(pid) : undefined,
      };
    });
    const connectedAtEnd = sum((summary) => summary.connectedAtEnd);
    const disconnects = sum((summary) => summary.disconnects);
    const stormFigures = storm && stormedClients !== undefined ? this.stormFigures(storm, stormedClients, summaries) : undefined;
    const clusterCpu = instances.every((instance) => instance.cpuSeconds !== undefined)
      ? instances.reduce((total, instance) => total + (instance.cpuSeconds ?? 0), 0)
      : undefined;
    const failures: string[] = [];
    if (connectedAtStart < setup.connections.expected) failures.push(`only ${connectedAtStart}/${setup.connections.expected} clients connected`);
    if (stormFigures && stormFigures.reconnected < stormFigures.clients)
      failures.push(`${stormFigures.clients - stormFigures.reconnected} of ${stormFigures.clients} stormed clients did not come back`);
    if (disconnects > 0) failures.push(`${disconnects} client(s) disconnected during the run`);
    if (deliveries.lost > 0) failures.push(`${deliveries.lost} lost`);
    if (deliveries.duplicates > 0) failures.push(`${deliveries.duplicates} duplicates`);
    if (deliveries.misdelivered > 0) failures.push(`${deliveries.misdelivered} misdelivered`);
    if (pace.published > 0 && deliveries.expected === 0) failures.push('nothing was expected: no client of a targeted user is connected');
    const publishErrors = publisher.errors;
    if (publishErrors > 0) failures.push(`${publishErrors} publish errors`);
    if (!(latencyMs.p99 < this.options.maxP99Ms)) failures.push(`p99 ${latencyMs.p99.toFixed(1)} ms >= ${this.options.maxP99Ms} ms`);
    const warnings: string[] = [];
    if (pace.lateMs.p99 > 5)
      warnings.push(`the publisher ran behind schedule (p99 ${pace.lateMs.p99.toFixed(1)} ms late): the load generator or the machine limited this run`);
    if (!progress.complete) warnings.push(`stopped waiting for deliveries after ${progress.waitedSeconds.toFixed(1)} s`);
    const workerLag = Math.max(0, ...summaries.map((summary) => summary.lagP99Ms));
    // The machine is shared: CPU that none of this session's processes used is other work competing with the run.
    const machine =
      machineBefore !== undefined && machineAfter !== undefined && machineSeconds > 0
        ? {
            busyCores: (machineAfter - machineBefore) / machineSeconds,
            otherCores: Math.max(0, machineAfter - machineBefore - sessionCpu) / machineSeconds,
            loadAverage1m: loadavg()[0],
          }
        : undefined;
    if (machine && machine.otherCores > OTHER_WORK_WARNING_CORES) warnings.push(`other work on the machine used ${machine.otherCores.toFixed(2)} cores during this run`);
    if (workerLag > 50) warnings.push(`client workers were busy (event loop lag p99 ${workerLag.toFixed(0)} ms): add --workers`);

    const result: RunResult = {
      system,
      phase,
      runId,
      attempt,
      rate,
      durationSeconds,
      connections: { expected: setup.connections.expected, connectedAtStart, connectedAtEnd, disconnects },
      acksSent: sum((summary) => summary.acksSent),
      published: pace.published,
      publishErrors,
      publisherLateMs: { p99: pace.lateMs.p99, max: pace.lateMs.max },
      deliveries,
      windowSeconds,
      deliveriesPerSecond: windowSeconds > 0 ? deliveries.received / windowSeconds : 0,
      latencyMs,
      instances,
      clusterCpuSeconds: clusterCpu,
      clusterCpuUsPerNotification: clusterCpu !== undefined && pace.published > 0 ? (clusterCpu / pace.published) * 1e6 : undefined,
      redisCpuSeconds: redisBefore !== undefined && redisAfter !== undefined ? redisAfter - redisBefore : undefined,
      redis: redisInfoBefore && redisInfoAfter ? redisRunFigures(redisInfoBefore, redisInfoAfter, pace.published) : undefined,
      storm: stormFigures,
      loadgen: { cpuSeconds: loadgenCpu, coresUsed: windowSeconds > 0 ? loadgenCpu / windowSeconds : 0, workerLagP99Ms: workerLag },
      machine,
      passed: failures.length === 0,
      failures,
      warnings,
    };
    this.hooks.latencies?.(
      result,
      summaries.map((summary) => summary.latenciesMs),
    );
    return result;
  }

  /** Waits until `storm.atSeconds` into the run, then storms; resolves with the number of clients it moved. */
  private async stormAt(target: TargetSystem, storm: RunStorm): Promise<number> {
    await delay(storm.atSeconds * 1000);
    const urls = target.instances.map((instance) => instance.url);
    if (storm.kind === 'close') return this.workers.storm({ system: target.system, instanceIndex: storm.instanceIndex, urls, close: true });
    if (!target.killInstance) throw new Error(`${target.system}: a kill storm needs instances the harness started`);
    // The clients learn where to go first; then the instance dies under them and they notice on their own.
    const clients = await this.workers.storm({ system: target.system, instanceIndex: storm.instanceIndex, urls, close: false });
    await target.killInstance(storm.instanceIndex);
    return clients;
  }

  /**
   * Waits until every client of the system is connected again (after a storm, some may still be retrying), so the
   * next system's run does not share the machine with this one's aftermath; resolves with the seconds it took, or
   * undefined when they were not all back within `timeoutMs`.
   */
  async waitAllConnected(system: SystemName, timeoutMs: number): Promise<number | undefined> {
    const started = performance.now();
    for (;;) {
      const { connected, devices } = await this.workers.connected(system);
      const waited = (performance.now() - started) / 1000;
      if (connected >= devices) return waited;
      if (waited * 1000 > timeoutMs) return undefined;
      await delay(200);
    }
  }

  /** Restarts an instance a kill storm took down (it comes back with no clients: they all moved). */
  async restartInstance(system: SystemName, index: number): Promise<void> {
    const target = this.target(system);
    if (target.instances[index]?.process?.running === false) await target.restartInstance?.(index);
  }

  private stormFigures(storm: RunStorm, clients: number, summaries: readonly WorkerRunSummary[]): StormFigures {
    const parts = summaries.flatMap((summary) => (summary.storm ? [summary.storm] : []));
    const total = (pick: (part: (typeof parts)[number]) => number): number => parts.reduce((sum, part) => sum + pick(part), 0);
    return {
      kind: storm.kind,
      instance: storm.instanceIndex,
      atSeconds: storm.atSeconds,
      clients,
      reconnected: total((part) => part.reconnected),
      recovered: total((part) => part.recovered),
      connectErrors: total((part) => part.connectErrors),
      reconnectMs: summarizeLatencies(parts.map((part) => part.reconnectMs)),
      handshakeMs: summarizeLatencies(parts.map((part) => part.handshakeMs)),
      lost: total((part) => part.lost),
      duplicates: total((part) => part.duplicates),
    };
  }

  private async sampleInstances(target: TargetSystem): Promise<Array<ProbeSample | undefined>> {
    return Promise.all(target.instances.map((instance) => (instance.process ? instance.process.sample().catch(() => undefined) : Promise.resolve(undefined))));
  }

  /** Waits until every expected notification arrived, or nothing arrived for a while, or the drain timeout. */
  private async drain(published: number, idleMs: number): Promise<{ complete: boolean; waitedSeconds: number }> {
    const started = performance.now();
    const deadline = started + this.options.drainTimeoutSeconds * 1000;
    let lastReceived = -1;
    let lastChange = started;
    for (;;) {
      const { expected, received } = await this.workers.progress(published);
      const now = performance.now();
      if (received >= expected) return { complete: true, waitedSeconds: (now - started) / 1000 };
      if (received !== lastReceived) {
        lastReceived = received;
        lastChange = now;
      }
      if (now > deadline || now - lastChange > idleMs) return { complete: false, waitedSeconds: (now - started) / 1000 };
      await delay(50);
    }
  }

  async close(): Promise<void> {
    BenchSession.live.delete(this);
    for (const publisher of this.publishers.values()) await publisher.close().catch(() => undefined);
    for (const client of this.redisClients.values()) if (client.isOpen) await client.close().catch(() => undefined);
    for (const system of this.targets.keys()) await this.workers.disconnect(system).catch(() => undefined);
    await this.workers.stop();
    for (const target of this.targets.values()) await target.stop();
  }
}

function safeRss(pid: number): number | undefined {
  try {
    return rssKbOf(pid);
  } catch {
    return undefined;
  }
}
